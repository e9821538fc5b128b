"""Real distributed jobs on this machine: a scheduler, a server and two workers on loopback.

Each job runs under the launcher with a time limit and a subprocess timeout, so none can hang
the suite; a marker in the environment finds any process a job leaves behind.
"""
import json
import os
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from tests.distributed import tasks

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOB_TIME_LIMIT_S = 100
MARKER = 'XFER_TEST_JOB'

pytestmark = pytest.mark.slow


def run_job(task, out_dir, time_limit_s=JOB_TIME_LIMIT_S):
    """Run ``tests.distributed.tasks TASK OUT_DIR`` on two workers; the finished launcher and the job's marker."""
    return launch_job([sys.executable, '-m', 'tests.distributed.tasks', task, str(out_dir)], time_limit_s)


def launch_job(worker_command, time_limit_s):
    marker = uuid.uuid4().hex
    environment = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1', MXNET_SUBGRAPH_VERBOSE='0',
                       **{MARKER: marker})
    command = [sys.executable, '-m', 'xfer.distributed.launch', '-n', '2', '-s', '1',
               '--timeout', str(time_limit_s), '--'] + worker_command
    finished = subprocess.run(command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=time_limit_s + 20, text=True)
    return finished, marker


def processes_with_marker(marker):
    """Pids of the processes whose environment holds ``MARKER=marker`` (read from /proc)."""
    needle = '{}={}'.format(MARKER, marker).encode()
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/{}/environ'.format(pid), 'rb') as environ:
                if needle in environ.read().split(b'\0'):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_two_workers_end_with_one_network_equal_to_one_process_at_double_batch(tmp_path):
    job, marker = run_job('fine_tune', tmp_path)
    assert job.returncode == 0, job.stdout
    assert processes_with_marker(marker) == []
    workers = [dict(np.load(tmp_path / 'params_{}.npz'.format(rank))) for rank in (0, 1)]
    assert sorted(workers[0]) == sorted(workers[1])
    for name in workers[0]:
        np.testing.assert_array_equal(workers[0][name], workers[1][name], err_msg=name)
    histories = [json.loads((tmp_path / 'history_{}.json'.format(rank)).read_text()) for rank in (0, 1)]
    assert histories[0] == histories[1]
    assert os.path.isfile(tmp_path / 'saved_by_0.json')
    assert not any(name.startswith('saved_by_1') for name in os.listdir(tmp_path))
    staged = [np.load(tmp_path / 'staged_{}.npz'.format(rank)) for rank in (0, 1)]
    for name in staged[0]:
        np.testing.assert_array_equal(staged[0][name], staged[1][name], err_msg=name)

    alone = tmp_path / 'alone'
    alone.mkdir()
    tasks.fine_tune(str(alone), kvstore='device')
    single = dict(np.load(alone / 'params_0.npz'))
    for name, value in single.items():
        np.testing.assert_allclose(workers[0][name], value, rtol=0, atol=1e-5, err_msg=name)
    single_history = json.loads((alone / 'history_0.json').read_text())
    assert histories[0]['epoch'] == single_history['epoch']
    assert histories[0]['best_epoch'] == single_history['best_epoch']
    assert histories[0]['validation_accuracy'] == single_history['validation_accuracy']
    np.testing.assert_allclose(histories[0]['train_loss'], single_history['train_loss'], rtol=1e-5)
    assert histories[0]['train_accuracy'] == single_history['train_accuracy']
    assert min(histories[0]['train_loss']) < histories[0]['train_loss'][0] / 2, 'the network should learn'


def test_sharded_extraction_and_the_meta_model_fitted_on_it_equal_one_process(tmp_path):
    job, marker = run_job('extract', tmp_path)
    assert job.returncode == 0, job.stdout
    assert processes_with_marker(marker) == []
    sharded = np.load(tmp_path / 'extracted.npz')
    alone = tmp_path / 'alone'
    alone.mkdir()
    tasks.extract(str(alone))
    single = np.load(alone / 'extracted.npz')
    assert sharded['features'].shape == (40, 128)
    np.testing.assert_array_equal(sharded['features'], single['features'])
    np.testing.assert_array_equal(sharded['probabilities'], single['probabilities'])
    assert 'only rank 0 fits the meta-model: predict on rank 0' in (tmp_path / 'predict_error_1').read_text()


def test_a_crashing_worker_fails_the_job_fast_and_leaves_no_process(tmp_path):
    job, marker = run_job('crash', tmp_path)
    assert job.returncode == 1
    assert 'worker 1 fails on purpose' in job.stdout
    assert 'job failed: worker 1 exited with code 1' in job.stdout
    assert processes_with_marker(marker) == []
    for rank in (0, 1):
        assert not os.path.exists('/proc/{}'.format((tmp_path / 'pid_{}'.format(rank)).read_text()))


def test_a_job_that_runs_past_its_time_limit_is_stopped_with_every_process(tmp_path):
    start = time.monotonic()
    job, marker = launch_job([sys.executable, '-c', 'import time; time.sleep(600)'], time_limit_s=5)
    assert job.returncode == 1
    assert 'job failed: the job ran past its --timeout; stopping the other processes' in job.stdout
    assert time.monotonic() - start < 20
    assert processes_with_marker(marker) == []
