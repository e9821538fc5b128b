"""How long do the transferability scores take on realistic sizes? LogME, H-score, LEEP and NCE.

Features are Gaussian with a weak class signal (the scores' cost does not depend on the values);
LEEP and NCE get 10-class source predictions. Each score runs once per size, all in one process.

    python benchmarks/score_speed.py
    python benchmarks/score_speed.py --sizes 5000x1024 10000x2048
"""
import argparse
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from xfer.transferability import h_score, leep, logme, nce  # noqa: E402
from common import cpu_model, write_report  # noqa: E402

TARGET_CLASSES = 10
SOURCE_CLASSES = 10


def parse_size(text):
    samples, dimensions = text.lower().split('x')
    return int(samples), int(dimensions)


def seconds(function, *arguments):
    start = time.perf_counter()
    function(*arguments)
    return time.perf_counter() - start


def time_scores(samples, dimensions, rng):
    """Seconds of each score on ``samples`` examples with ``dimensions`` features."""
    labels = rng.integers(0, TARGET_CLASSES, samples)
    features = rng.normal(size=(samples, dimensions)).astype(np.float32) + 0.05 * labels[:, None]
    logits = rng.normal(size=(samples, SOURCE_CLASSES))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {'LogME': seconds(logme, features, labels), 'H-score': seconds(h_score, features, labels),
            'LEEP': seconds(leep, probabilities, labels), 'NCE': seconds(nce, probabilities.argmax(axis=1), labels)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', nargs='+', type=parse_size, default=[(1000, 512), (5000, 1024), (5000, 4096),
                                                                         (10000, 2048)], help='SAMPLESxDIMENSIONS')
    parser.add_argument('--output', default=os.path.join(REPO, 'benchmarks', 'results', 'score_speed.md'))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    lines = ['# Transferability scores: seconds per call', '',
             '{} on {} ({} cores); {} target classes, {} source classes for LEEP and NCE.'.format(
                 time.strftime('%Y-%m-%d'), cpu_model(), os.cpu_count(), TARGET_CLASSES, SOURCE_CLASSES), '',
             '| samples | feature dims | LogME s | H-score s | LEEP s | NCE s |', '|---:|---:|---:|---:|---:|---:|']
    for samples, dimensions in args.sizes:
        timings = time_scores(samples, dimensions, rng)
        lines.append('| {:,} | {:,} | {} |'.format(samples, dimensions, ' | '.join(
            '{:.3f}'.format(timings[name]) for name in ('LogME', 'H-score', 'LEEP', 'NCE'))))
        print(lines[-1], flush=True)
    write_report('\n'.join(lines) + '\n', args.output)


if __name__ == '__main__':
    main()
