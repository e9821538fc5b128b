"""A save killed at any moment leaves a loadable save: the previous one or the new one, never a mix.

A forked child saves over an existing save again and again and is killed with SIGKILL, either
at a random moment or while paused just before one of the save's renames/links; the parent
then loads what is on disk and checks that it predicts exactly as one of the two saves did.
"""
import json
import os
import random
import select
import signal
import time

import mxnet as mx
import numpy as np
import pytest

import xfer
from tests.conftest import load_source_module

CLASSES = [3, 8]
FACTORIES = {
    'lr': lambda source: xfer.LrRepurposer(source, ['fc1']),
    'svm': lambda source: xfer.SvmRepurposer(source, ['fc1'], enable_probability_estimates=True),
    'gp': lambda source: xfer.GpRepurposer(source, ['fc1'], max_function_evaluations=3),
    'bnn': lambda source: xfer.BnnRepurposer(source, ['fc1'], num_epochs=2, num_samples_mc_prediction=5),
    'fine_tune': lambda source: xfer.NeuralNetworkFineTuneRepurposer(source, 'fc1', 2, num_epochs=1),
    'random_freeze': lambda source: xfer.NeuralNetworkRandomFreezeRepurposer(source, 2, ['conv1'], ['fc1'],
                                                                             num_epochs=1),
}
NEURAL_NETWORKS = {'fine_tune', 'random_freeze'}
RANDOM_KILLS = 15
#: The calls by which a save publishes a file: pausing before each one tests every rename.
PUBLISHING_CALLS = ('replace', 'link')


@pytest.fixture(scope='module')
def task(mnist_digits):
    images, labels = mnist_digits
    keep = np.isin(labels, CLASSES)
    images, labels = images[keep][:60], (labels[keep][:60] == CLASSES[1]).astype(np.int64)
    return (images[:20], labels[:20]), (images[20:40], labels[20:40]), images[40:]


def _iterator(images, labels=None):
    return mx.io.NDArrayIter(images, labels, batch_size=10, label_name='softmax_label')


def _trained_pair(kind, task):
    """Two repurposers of one kind trained on different data, and their test predictions."""
    source = load_source_module('lenet_mnist04')
    repurposers = []
    for images, labels in task[:2]:
        np.random.seed(0)
        mx.random.seed(0)
        repurposer = FACTORIES[kind](source)
        repurposer.repurpose(_iterator(images, labels))
        repurposers.append(repurposer)
    predictions = [repurposer.predict_probability(_iterator(task[2])) for repurposer in repurposers]
    assert not np.array_equal(*predictions), 'the two saves must be told apart by their predictions'
    return source, repurposers, predictions


def _child(repurposers, first, directory, pause_at, signal_fd):
    """Save over and over, alternating the two repurposers from ``repurposers[first]``; with ``pause_at``, stop
    before that publishing call."""
    calls = [0]

    def paused(original):
        def call(*args, **kwargs):
            calls[0] += 1
            if calls[0] == pause_at:
                os.write(signal_fd, b'p')
                time.sleep(120)
            return original(*args, **kwargs)
        return call

    for name in PUBLISHING_CALLS:
        setattr(os, name, paused(getattr(os, name)))
    for step in range(10 ** 6):
        repurposers[(first + step) % 2].save_repurposer('model', directory)
        os.write(signal_fd, b's')


def _run_and_kill(repurposers, first, directory, pause_at=None, delay=None):
    """Fork a child saving from ``repurposers[first]`` on and SIGKILL it when paused at ``pause_at`` (or after
    ``delay`` seconds)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns to pytest
        try:
            os.close(read_fd)
            _child(repurposers, first, directory, pause_at, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        if pause_at is None:
            time.sleep(delay)
        else:
            _wait_for_pause(read_fd)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)


def _wait_for_pause(read_fd, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([read_fd], [], [], max(deadline - time.time(), 0))
        if ready and os.read(read_fd, 1) == b'p':
            return
    raise AssertionError('the saving child did not reach the pause within {} s'.format(timeout))


def _check_loads_one_of(kind, source, directory, predictions, test_images, trial):
    loaded = xfer.load('model', directory, source_model=source if kind in NEURAL_NETWORKS else None)
    predicted = loaded.predict_probability(_iterator(test_images))
    matches = [np.array_equal(predicted, expected) for expected in predictions]
    assert any(matches), '{}: after {} the save predicts like neither the old nor the new save'.format(kind, trial)
    return matches.index(True)


@pytest.mark.slow
@pytest.mark.parametrize('kind', sorted(FACTORIES))
def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_save(kind, task, tmp_path):
    source, repurposers, predictions = _trained_pair(kind, task)
    directory = str(tmp_path)
    started = time.time()
    repurposers[0].save_repurposer('model', directory)
    save_seconds = time.time() - started
    with open(os.path.join(directory, 'model.json')) as json_file:
        publishing_calls = len(json.load(json_file)['companion_files']['sha256']) + 1  # companions, then the JSON
    assert publishing_calls >= 3 - (kind in NEURAL_NETWORKS)
    on_disk = 0
    for pause_at in range(1, publishing_calls + 1):  # the new save is stopped before each of its publishing calls
        _run_and_kill(repurposers, 1 - on_disk, directory, pause_at=pause_at)
        found = _check_loads_one_of(kind, source, directory, predictions, task[2],
                                    'a kill before publishing call {}'.format(pause_at))
        assert found == on_disk, '{}: a save killed before its JSON was renamed took effect'.format(kind)
    rng = random.Random(kind)
    outcomes = []
    for trial in range(RANDOM_KILLS):
        delay = rng.uniform(0.05, 0.05 + 3 * save_seconds)
        _run_and_kill(repurposers, 1 - on_disk, directory, delay=delay)
        on_disk = _check_loads_one_of(kind, source, directory, predictions, task[2],
                                      'a kill after {:.2f} s'.format(delay))
        outcomes.append(on_disk)
    assert len(outcomes) == RANDOM_KILLS
    repurposers[0].save_repurposer('model', directory)  # a save after the kills tidies what they left
    with open(os.path.join(directory, 'model.json')) as json_file:
        listed = set(json.load(json_file)['companion_files']['sha256'])
    assert sorted(os.listdir(directory)) == sorted(listed | {'model.json'})
