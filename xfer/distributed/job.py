"""This process's place in a distributed job, and the few collective operations xfer needs.

A job is what :mod:`xfer.distributed.launch` (or another launcher that sets the ``DMLC_*``
environment variables) starts: a scheduler, servers and workers. Every worker holds one MXNet
distributed kvstore for the whole process (freeing one stops the servers); the servers only
ever *sum* what the workers push, so the kvstore serves as an all-reduce for gradients,
metrics and gathered features alike.
"""
import atexit
import os
import sys
import traceback

import mxnet as mx
import numpy as np

from ..data.sharding import shard_indices

#: Environment variable in which :mod:`xfer.distributed.launch` gives each worker its rank.
RANK_VARIABLE = 'XFER_WORKER_RANK'
#: The kvstore types a job can train with: the synchronous ones (see :func:`check_kvstore`).
SYNC_KVSTORES = ('dist_sync', 'dist_device_sync')

_job = {'kvstore': None, 'next_key': 0, 'block_keys': {}}


def in_job():
    """Whether this process is a worker of a distributed job (``DMLC_ROLE=worker``)."""
    return os.environ.get('DMLC_ROLE') == 'worker'


def rank():
    """This worker's rank, ``0..num_workers()-1``; 0 outside a distributed job.

    Under :mod:`xfer.distributed.launch` it is the number the launcher prefixes the worker's
    output with; under another launcher, the kvstore's rank.
    """
    if not in_job():
        return 0
    if RANK_VARIABLE in os.environ:
        return int(os.environ[RANK_VARIABLE])
    return kvstore().rank


def num_workers():
    """How many workers the job has; 1 outside a distributed job."""
    return int(os.environ['DMLC_NUM_WORKER']) if in_job() else 1


def is_distributed(kvstore_type):
    """Whether a ``kvstore=`` value asks for the distributed kvstore (``'dist_*'``)."""
    return isinstance(kvstore_type, str) and kvstore_type.startswith('dist')


def check_kvstore(kvstore_type):
    """Raise ValueError for a ``kvstore=`` value xfer cannot train with; accept None and strings."""
    if kvstore_type is not None and not isinstance(kvstore_type, str):
        raise ValueError("kvstore must be None or an MXNet kvstore type such as 'device' or 'dist_sync', "
                         "got {!r}".format(kvstore_type))
    if is_distributed(kvstore_type) and kvstore_type not in SYNC_KVSTORES:
        raise ValueError("kvstore={!r} is not supported: xfer trains with a synchronous kvstore ({}) so that every "
                         "worker ends with the same network and the same training report".format(
                             kvstore_type, ', '.join(SYNC_KVSTORES)))


def kvstore(kvstore_type=None):
    """The process's one distributed kvstore, created (joining the job) on the first call.

    ``kvstore_type`` None: the one there is, or a new ``'dist_sync'`` one.
    """
    check_kvstore(kvstore_type)
    if not in_job():
        raise RuntimeError('This process is not a worker of a distributed job (DMLC_ROLE is {!r}): start it with '
                           'python -m xfer.distributed.launch'.format(os.environ.get('DMLC_ROLE')))
    if _job['kvstore'] is None:
        _job['kvstore'] = mx.kv.create(kvstore_type or SYNC_KVSTORES[0])
        sys.excepthook = _exit_at_once
        atexit.register(_leave_job)
    elif kvstore_type not in (None, _job['kvstore'].type):
        raise ValueError("This process already joined the job with a {!r} kvstore; one process holds one kvstore, "
                         "so ask for {!r} again rather than {!r}".format(_job['kvstore'].type, _job['kvstore'].type,
                                                                        kvstore_type))
    return _job['kvstore']


def new_keys(count):
    """``count`` kvstore keys never used before in this job (every worker draws them in the same order)."""
    first = _job['next_key']
    _job['next_key'] += count
    return list(range(first, first + count))


def allreduce_sum(array):
    """The element-wise sum of the numpy ``array`` over all workers (each passes one of the same shape).

    The servers add floating-point numbers only: other arrays travel as float64 (exact up to 2**53).
    """
    array = np.asarray(array)
    if not in_job():
        return array.copy()
    carrier = array.dtype if np.issubdtype(array.dtype, np.floating) else np.float64
    value = mx.nd.array(array, dtype=carrier)
    sum_in_place([value])
    return value.asnumpy().astype(array.dtype)


def allgather(array):
    """Every worker's ``array`` stacked in rank order: shape ``(num_workers(),) + array.shape``."""
    array = np.asarray(array)
    slots = np.zeros((num_workers(),) + array.shape, dtype=array.dtype)
    slots[rank()] = array
    return allreduce_sum(slots)


def broadcast(arrays):
    """Overwrite the NDArrays ``arrays`` (same shapes on every worker) with rank 0's values."""
    if not in_job() or not arrays:
        return
    if rank() != 0:
        for array in arrays:
            array[:] = 0
    sum_in_place(arrays)


def gather_shards(array):
    """Rank 0: the rows of every worker's ``array`` put back in the original sample order; others: None.

    Each worker passes the rows of its strided shard (``num_parts=num_workers(),
    part_index=rank()``, see :func:`xfer.data.shard_indices`), all with the same trailing shape. The shards go
    to rank 0 one at a time, each padded to the longest shard: every worker pushes one shard's
    worth of rows per round (its own or zeros), so rank 0 holds the whole result plus one shard;
    the servers keep one block of each shape gathered.
    """
    array = np.asarray(array)
    if not in_job():
        return array.copy()
    counts = allgather(np.array(len(array)))
    rows, total, mine = int(counts.max()), int(counts.sum()), rank() == 0
    carrier = array.dtype if np.issubdtype(array.dtype, np.floating) else np.float64
    gathered = np.empty((total,) + array.shape[1:], dtype=array.dtype) if mine else None
    store = kvstore()
    key = _block_key((rows,) + array.shape[1:], carrier)
    for part in range(num_workers()):
        block = np.zeros((rows,) + array.shape[1:], dtype=carrier)
        if part == rank():
            block[:len(array)] = array
        value = mx.nd.array(block, dtype=carrier)
        store.push(key, value)
        # one round at a time on the key: rank 0 pulls the sum before it pushes again; the others wait
        # for the servers to answer their push, which they do once every worker's block is summed
        if mine:
            store.pull(key, out=value)
            gathered[shard_indices(total, num_workers(), part)] = value.asnumpy()[:counts[part]]
        else:
            mx.nd.waitall()
    return gathered


def _block_key(shape, dtype):
    """The key that carries blocks of this shape, made once: the servers keep one block per shape."""
    blocks = _job['block_keys']
    if (shape, dtype) not in blocks:
        blocks[(shape, dtype)], = new_keys(1)
        kvstore().init(blocks[(shape, dtype)], mx.nd.zeros(shape, dtype=dtype))
    return blocks[(shape, dtype)]


def sum_in_place(arrays):
    """Replace each NDArray (same shapes on every worker) by its sum over the workers, in one round trip."""
    store = kvstore()
    keys = new_keys(len(arrays))
    store.init(keys, [mx.nd.zeros(array.shape, dtype=array.dtype) for array in arrays])
    store.push(keys, arrays)
    store.pull(keys, out=arrays)


def _leave_job():
    """Free the kvstore while the interpreter still runs: its exit barrier and the servers' stop need it."""
    _job['kvstore'] = None


def _exit_at_once(exc_type, value, trace):
    """On an uncaught error, print it and exit now: the kvstore's exit barrier would wait for the others."""
    traceback.print_exception(exc_type, value, trace)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(1)
