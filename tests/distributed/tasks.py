"""What the workers of the test jobs run: ``python -m tests.distributed.tasks TASK OUT_DIR [KVSTORE]``.

Each task also runs in one plain process (the tests call the same functions there), so a job's
result can be compared with the single-process one. Data: 40 training digits of classes 5-9
(20 per worker of two), batches of 10 per worker (20 in one process).
"""
import json
import os
import sys
import time

import mxnet as mx
import numpy as np

import xfer
from xfer import datasets, distributed
from tests.conftest import load_source_module

TARGET_CLASSES = [5, 6, 7, 8, 9]
WORKER_BATCH = 10


def target_task():
    """40 training and 30 validation digits of classes 5-9 drawn at random, relabelled 0-4."""
    images, labels = datasets.load_mnist_5k()
    keep = np.random.default_rng(0).permutation(np.flatnonzero(np.isin(labels, TARGET_CLASSES)))[:70]
    images, labels = images[keep], labels[keep] - TARGET_CLASSES[0]
    return (images[:40], labels[:40]), (images[40:], labels[40:])


def shard(images, labels, batch_size):
    """This worker's strided shard of the data (all of it in one process)."""
    return xfer.data.from_numpy(images, labels, batch_size=batch_size, num_parts=distributed.num_workers(),
                                part_index=distributed.rank())


def fine_tune(out_dir, kvstore='dist_sync'):
    """Fine-tune LeNet on this worker's shard; write its params, history and (rank 0) the saved repurposer."""
    (train_x, train_y), (valid_x, valid_y) = target_task()
    mx.random.seed(7)
    batch = WORKER_BATCH * (1 if distributed.in_job() else 2)
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(
        load_source_module('lenet_mnist04'), 'fc1', len(TARGET_CLASSES), batch_size=batch, num_epochs=8,
        optimizer='sgd', optimizer_params={'learning_rate': 0.02}, kvstore=kvstore)
    validation = mx.io.NDArrayIter(valid_x, valid_y, batch_size=10, label_name='softmax_label')
    repurposer.repurpose(shard(train_x, train_y, batch), validation_iterator=validation, patience=2)
    arg_params, aux_params = repurposer.target_model.get_params()
    np.savez(os.path.join(out_dir, 'params_{}.npz'.format(distributed.rank())),
             **{name: value.asnumpy() for name, value in dict(arg_params, **aux_params).items()})
    report = dict(repurposer.history, best_epoch=repurposer.best_epoch)
    report.pop('seconds')
    with open(os.path.join(out_dir, 'history_{}.json'.format(distributed.rank())), 'w') as out:
        json.dump(report, out)
    repurposer.save_repurposer('saved_by_{}'.format(distributed.rank()), out_dir)
    if distributed.in_job():
        staged_on_uneven_shards(out_dir, kvstore)


def staged_on_uneven_shards(out_dir, kvstore):
    """A second repurposer in the same process, trained in stages (three fits) on 41 samples: shards
    of 21 and 20, so three batches on one worker and two on the other."""
    (train_x, train_y), _ = target_task()
    train_x, train_y = np.concatenate([train_x, train_x[:1]]), np.concatenate([train_y, train_y[:1]])
    repurposer = xfer.NeuralNetworkFineTuneRepurposer(
        load_source_module('lenet_mnist04'), 'fc1', len(TARGET_CLASSES), batch_size=WORKER_BATCH, num_epochs=1,
        unfreeze_stages=[['fc1'], ['conv2']], kvstore=kvstore)
    repurposer.repurpose(shard(train_x, train_y, WORKER_BATCH))
    arg_params, _ = repurposer.target_model.get_params()
    np.savez(os.path.join(out_dir, 'staged_{}.npz'.format(distributed.rank())),
             **{name: value.asnumpy() for name, value in arg_params.items()})


def extract(out_dir):
    """LR on LeNet's fc1 features of this worker's shard: write the features, and rank 0's predictions."""
    (train_x, train_y), (valid_x, valid_y) = target_task()
    repurposer = xfer.LrRepurposer(load_source_module('lenet_mnist04'), ['fc1'], n_jobs=1)  # no joblib workers
    features = repurposer.get_features_from_source_model(shard(train_x, train_y, WORKER_BATCH))
    if distributed.rank() == 0:
        time.sleep(0.5)  # rank 0 comes late: the others must not push a second round before it pulls the first
    gathered = distributed.gather_shards(features.features)
    repurposer.repurpose(shard(train_x, train_y, WORKER_BATCH))
    validation = mx.io.NDArrayIter(valid_x, valid_y, batch_size=10, label_name='softmax_label')
    if distributed.rank() == 0:
        np.savez(os.path.join(out_dir, 'extracted.npz'), features=gathered,
                 probabilities=repurposer.predict_probability(validation))
        return
    try:
        repurposer.predict_label(validation)
    except ValueError as error:
        with open(os.path.join(out_dir, 'predict_error_{}'.format(distributed.rank())), 'w') as out:
            out.write(str(error))


def crash(out_dir):
    """Rank 1 fails after joining the job; rank 0 would wait for it forever at the next all-reduce."""
    with open(os.path.join(out_dir, 'pid_{}'.format(distributed.rank())), 'w') as out:
        out.write(str(os.getpid()))
    distributed.allreduce_sum(np.ones(1))
    if distributed.rank() == 1:
        raise RuntimeError('worker 1 fails on purpose')
    distributed.allreduce_sum(np.ones(1))


if __name__ == '__main__':
    {'fine_tune': fine_tune, 'extract': extract, 'crash': crash}[sys.argv[1]](*sys.argv[2:])
