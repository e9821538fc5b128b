"""xfer.distributed outside a job, and the kvstore values the repurposers accept."""
import mxnet as mx
import numpy as np
import pytest

import xfer
from xfer import distributed
from xfer.distributed import job


@pytest.fixture
def no_job(monkeypatch):
    monkeypatch.delenv('DMLC_ROLE', raising=False)


def test_outside_a_job_there_is_one_worker_of_rank_zero_and_collectives_are_identities(no_job):
    assert (distributed.in_job(), distributed.rank(), distributed.num_workers()) == (False, 0, 1)
    array = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(distributed.allreduce_sum(array), array)
    np.testing.assert_array_equal(distributed.allgather(array), array[None])
    np.testing.assert_array_equal(distributed.gather_shards(array), array)
    ones = [mx.nd.ones(2)]
    distributed.broadcast(ones)
    np.testing.assert_array_equal(ones[0].asnumpy(), [1, 1])


def test_the_kvstore_says_how_to_join_a_job(no_job):
    with pytest.raises(RuntimeError, match='not a worker of a distributed job .* python -m xfer.distributed.launch'):
        job.kvstore('dist_sync')


@pytest.mark.parametrize('value, message', [
    ('dist_async', r"kvstore='dist_async' is not supported: xfer trains with a synchronous kvstore"),
    (3, 'kvstore must be None or an MXNet kvstore type'),
])
def test_fine_tuning_repurposers_refuse_kvstores_they_cannot_train_with(lenet_module, value, message):
    with pytest.raises(ValueError, match=message):
        xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 3, kvstore=value)
    with pytest.raises(ValueError, match=message):
        xfer.NeuralNetworkRandomFreezeRepurposer(lenet_module, 3, [], [], kvstore=value)


@pytest.mark.parametrize('value', ['device', 'local', None, 'dist_sync', 'dist_device_sync'])
def test_kvstore_is_a_constructor_argument_that_get_params_returns(lenet_module, value):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 3, kvstore=value)
    assert repurposer.get_params()['kvstore'] == value
    twin = type(repurposer)(lenet_module, **repurposer.get_params())
    assert twin.kvstore == value


def test_the_default_kvstore_is_unchanged(lenet_module):
    assert xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 3).kvstore == 'device'
    assert xfer.NeuralNetworkRandomFreezeRepurposer(lenet_module, 3, [], []).kvstore == 'device'


def test_training_with_a_dist_kvstore_outside_a_job_says_how_to_start_one(no_job, lenet_module, mnist_iterator):
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(lenet_module, 'fc1', 10, num_epochs=1, kvstore='dist_sync')
    with pytest.raises(RuntimeError, match='start it with python -m xfer.distributed.launch'):
        repurposer.repurpose(mnist_iterator)
