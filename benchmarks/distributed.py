"""Does xfer scale out? Sharded extraction and data-parallel fine-tuning with 1 and 2 workers.

Runs the same measurements three ways, each in fresh processes: in one plain process
(``kvstore='device'``, no job), and in jobs of 1 and of 2 workers (one server) started by
``python -m xfer.distributed.launch``. Each job measures, on LeNet (``tests/data/models/lenet_mnist04``)
and real MNIST digits:

- extraction: each worker runs ``get_layer_output`` on its strided shard of ``--extract`` digits,
  then ``gather_shards`` brings the ``fc1`` features to rank 0 in order;
- fine-tuning: ``NeuralNetworkFineTuneRepurposer`` (cut at ``fc1``, 5-way head, SGD) on the
  digits 5-9, ``--batch-size`` per worker, seconds per epoch as its history records them (the
  slowest worker's);
- communication: one step's gradient exchange (``pushpull`` of every trainable param of that
  network through the job's kvstore), and the per-batch lockstep check, timed over many rounds.

    python benchmarks/distributed.py              # about 2 minutes on 2 cores
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('MXNET_SUBGRAPH_VERBOSE', '0')

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import xfer  # noqa: E402
from xfer import datasets, distributed  # noqa: E402
from xfer.distributed.fit_kvstore import FitKVStore  # noqa: E402
from xfer.distributed.lockstep_iter import LockstepIter  # noqa: E402
from xfer.model_handler import ModelHandler  # noqa: E402
from common import Clock, cpu_model, source_module, write_report  # noqa: E402

EXTRACT_BATCH = 100
COMMUNICATION_ROUNDS = 50
LOCKSTEP_ROUNDS = 200
#: Assumed for the estimate on paper: a 10 Gbit/s link per machine, 0.1 ms per message.
LINK_BYTES_PER_S = 10e9 / 8
LATENCY_S = 1e-4


def shard(images, labels, batch_size):
    return xfer.data.from_numpy(images, labels, batch_size=batch_size, num_parts=distributed.num_workers(),
                                part_index=distributed.rank())


def slowest(seconds):
    return float(distributed.allgather(np.array([seconds])).max())


def measure_extraction(images, labels):
    handler = ModelHandler(source_module())
    handler.get_layer_output(shard(images[:EXTRACT_BATCH], labels[:EXTRACT_BATCH], EXTRACT_BATCH), ['fc1'])  # bind
    distributed.allreduce_sum(np.zeros(1))  # start together
    with Clock() as extraction:
        outputs, _ = handler.get_layer_output(shard(images, labels, EXTRACT_BATCH), ['fc1'])
    with Clock() as gather:
        features = distributed.gather_shards(outputs['fc1'])
    return {'extract_s': slowest(extraction.wall), 'gather_s': slowest(gather.wall),
            'feature_dims': int(outputs['fc1'].shape[1]), 'gathered_rows': None if features is None else len(features)}


def measure_fine_tuning(images, labels, batch_size, epochs):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(
        source_module(), 'fc1', 5, batch_size=batch_size, num_epochs=epochs, optimizer='sgd',
        optimizer_params={'learning_rate': 0.01, 'momentum': 0.9},
        kvstore='dist_sync' if distributed.in_job() else 'device')
    repurposer.repurpose(shard(images, labels, batch_size), show_progress=False)
    arg_params, _ = repurposer.target_model.get_params()
    trainable = {name: value for name, value in arg_params.items() if not name.endswith('_label')}
    seconds = repurposer.history['seconds'][1:]  # the first epoch also binds and warms up
    return {'epoch_s': float(np.median(seconds)), 'epoch_seconds': seconds,
            'steps_per_epoch': int(np.ceil(len(labels) / distributed.num_workers() / batch_size)),
            'final_train_accuracy': repurposer.history['train_accuracy'][-1],
            'param_bytes': int(sum(value.size * 4 for value in trainable.values()))}, trainable


def measure_communication(trainable):
    if not distributed.in_job():
        return {}
    kvstore = FitKVStore('dist_sync')
    names = sorted(trainable)
    arrays = [trainable[name].copy() for name in names]
    kvstore.init(names, arrays)
    kvstore.pushpull(names, arrays)
    mx.nd.waitall()
    with Clock() as exchange:
        for _ in range(COMMUNICATION_ROUNDS):
            kvstore.pushpull(names, arrays)
        mx.nd.waitall()
    check = LockstepIter(mx.io.NDArrayIter(np.zeros((LOCKSTEP_ROUNDS + 1, 1)), batch_size=1))
    check.next()
    with Clock() as lockstep:
        for _ in range(LOCKSTEP_ROUNDS):
            check.next()
    return {'step_exchange_ms': slowest(exchange.wall) / COMMUNICATION_ROUNDS * 1e3,
            'lockstep_ms': slowest(lockstep.wall) / LOCKSTEP_ROUNDS * 1e3}


def worker(args):
    images, labels = datasets.load_mnist_5k()
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order], labels[order]
    result = measure_extraction(images[:args.extract], labels[:args.extract])
    keep = labels >= 5
    fine_tuning, trainable = measure_fine_tuning(images[keep], labels[keep] - 5, args.batch_size, args.epochs)
    result.update(fine_tuning, workers=distributed.num_workers(), **measure_communication(trainable))
    if distributed.rank() == 0:
        with open(args.worker, 'w') as out:
            json.dump(result, out)


def run(workers, args, out_path):
    """One measurement run: in a plain process (workers None) or in a job of ``workers`` workers."""
    command = [sys.executable, os.path.abspath(__file__), '--worker', out_path, '--extract', str(args.extract),
               '--epochs', str(args.epochs), '--batch-size', str(args.batch_size)]
    if workers:
        command = [sys.executable, '-m', 'xfer.distributed.launch', '-n', str(workers), '-s', '1',
                   '--timeout', '600', '--'] + command
    environment = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    subprocess.run(command, cwd=REPO, env=environment, check=True, stdout=subprocess.DEVNULL, timeout=660)
    with open(out_path) as result:
        return json.load(result)


def estimate(plain, two):
    """Rows of the on-paper estimate for N machines, from the measured single-worker compute."""
    step_compute = plain['epoch_s'] / plain['steps_per_epoch']
    per_sample_extract = plain['extract_s'] / plain['extract_n']
    feature_bytes = plain['feature_dims'] * 4
    rows = []
    for machines in (1, 2, 4, 8, 16, 32):
        messages = 0 if machines == 1 else 2 * LATENCY_S
        spread = 0 if machines == 1 else 2 * plain['param_bytes'] / LINK_BYTES_PER_S
        one_server = spread * machines
        train_spread = machines * two['batch_size'] / (step_compute + spread + messages)
        train_one = machines * two['batch_size'] / (step_compute + one_server + messages)
        gather_per_sample = 0 if machines == 1 else machines * feature_bytes / LINK_BYTES_PER_S
        extract = 1 / (per_sample_extract / machines + gather_per_sample)
        rows.append('| {} | {:,.0f} | {:,.0f} | {:,.0f} |'.format(machines, train_spread, train_one, extract))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--extract', type=int, default=4000, help='digits to extract features of')
    parser.add_argument('--epochs', type=int, default=4, help='fine-tuning epochs (the first is not timed)')
    parser.add_argument('--batch-size', type=int, default=50, help='fine-tuning batch size per worker')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--output', default=os.path.join(REPO, 'benchmarks', 'results', 'distributed.md'))
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory() as scratch:
        results = {name: run(workers, args, os.path.join(scratch, name + '.json'))
                   for name, workers in (('plain', None), ('one', 1), ('two', 2))}
    for result in results.values():
        result.update(extract_n=args.extract, batch_size=args.batch_size)
    write_report(report(results, args), args.output)


def report(results, args):
    plain, one, two = results['plain'], results['one'], results['two']
    lines = [
        '# Distributed: sharded extraction and data-parallel fine-tuning, 1 and 2 workers',
        '',
        '{} on {} ({} cores, **shared with other developers\' runs while measured**), mxnet {}. Two worker '
        'processes plus a server and a scheduler on 2 cores is the ceiling here: the workers compete for the '
        'same cores, so these rows show the overheads; what separate machines would give is estimated on '
        'paper below. '
        'LeNet source, `OMP_NUM_THREADS=1` per process, so one process computes on one core and two '
        'workers on both: the 2-worker rows gain from that, not only from sharding.'.format(
            time.strftime('%Y-%m-%d'), cpu_model(), os.cpu_count(), mx.__version__),
        '',
        '| run | extraction: samples/s (extract + gather s) | fine-tuning: s per epoch (median of {}) | '
        'steps per epoch per worker | gradient exchange per step | lockstep check per batch |'.format(args.epochs - 1),
        '|---|---|---|---|---|---|',
    ]
    for name, result in (('1 process, no job', plain), ('job, 1 worker', one), ('job, 2 workers', two)):
        total = result['extract_s'] + result['gather_s']
        lines.append('| {} | {:,.0f} ({:.2f} + {:.2f}) | {:.2f} | {} | {} | {} |'.format(
            name, args.extract / total, result['extract_s'], result['gather_s'], result['epoch_s'],
            result['steps_per_epoch'],
            '{:.2f} ms'.format(result['step_exchange_ms']) if 'step_exchange_ms' in result else '—',
            '{:.2f} ms'.format(result['lockstep_ms']) if 'lockstep_ms' in result else '—'))
    lines += [
        '',
        'Extraction of {:,} digits (`fc1`, {} features), fine-tuning on the 2,500 digits 5-9 at batch {} per worker '
        'for {} epochs; final training accuracy {:.3f} (1 process) / {:.3f} (2 workers). The network trained has '
        '{:,} bytes of float32 params: each step every worker pushes that many bytes of gradients and pulls as '
        'many back. Epoch seconds per run: 1 process {}, 1 worker {}, 2 workers {}.'.format(
            args.extract, plain['feature_dims'], args.batch_size, args.epochs, plain['final_train_accuracy'],
            two['final_train_accuracy'], plain['param_bytes'], np.round(plain['epoch_seconds'], 2).tolist(),
            np.round(one['epoch_seconds'], 2).tolist(), np.round(two['epoch_seconds'], 2).tolist()),
        '',
        '## On paper: N machines',
        '',
        'One worker per machine, each computing as fast as the single process above ({:.1f} ms per step of {} '
        'samples, {:.3f} ms per extracted sample), a {:.0f} Gbit/s link per machine and {:.1f} ms per message. '
        'Fine-tuning, per step: every worker sends and receives P = {:,} bytes. With one server per machine '
        '(`-s N`) the kvstore spreads the params over the servers (each whole on one server, or split above '
        '`MXNET_KVSTORE_BIGARRAY_BOUND` = 10^6 elements); if they spread evenly each link carries about 2P; '
        'with a single server its link carries 2NP. Throughput = N x batch / (compute + exchange). Extraction '
        'scales with N until the gather: rank 0 receives every feature row (4 x {} bytes), but each worker '
        'pushes a padded block for every shard in turn, so a single server\'s link carries N x 4 x {} bytes '
        'per sample.'.format(
            plain['epoch_s'] / plain['steps_per_epoch'] * 1e3, args.batch_size,
            plain['extract_s'] / args.extract * 1e3, LINK_BYTES_PER_S * 8 / 1e9, LATENCY_S * 1e3,
            plain['param_bytes'], plain['feature_dims'], plain['feature_dims']),
        '',
        '| machines N | fine-tuning samples/s, N servers | fine-tuning samples/s, 1 server | extraction samples/s |',
        '|---|---|---|---|',
    ] + estimate(plain, two) + [
        '',
        'The estimate leaves out what grows with real networks (a ResNet-50 has ~100 MB of params: at 10 Gbit/s '
        'its exchange alone takes ~0.16 s per step, so larger batches per worker pay off) and the stragglers a '
        'synchronous kvstore waits for.',
        '']
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
