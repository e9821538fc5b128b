"""A training iterator that ends its epoch on every worker at the same batch."""
import mxnet as mx

from . import job


class LockstepIter(mx.io.DataIter):
    """Wraps a worker's shard so that every worker sees an epoch of the same number of batches.

    With a synchronous kvstore a worker that has one batch more than the others would push its
    gradients and wait for theirs forever. Before each batch the workers sum "I have a batch"
    over the kvstore (a push and a pull of one number, on a key kept for the purpose), and the
    epoch ends for all as soon as one shard is exhausted: the extra batches of longer shards are
    skipped.
    """

    def __init__(self, shard):
        super().__init__(getattr(shard, 'batch_size', 0))
        self.shard = shard
        self._kvstore = job.kvstore()
        self._key, = job.new_keys(1)
        self._kvstore.init(self._key, mx.nd.zeros(1))

    @property
    def provide_data(self):
        return self.shard.provide_data

    @property
    def provide_label(self):
        return self.shard.provide_label

    def reset(self):
        self.shard.reset()

    def next(self):
        try:
            batch = self.shard.next()
        except StopIteration:
            batch = None
        flag = mx.nd.array([0.0 if batch is None else 1.0])
        self._kvstore.push(self._key, flag)  # the servers only sum, so the key can be used again and again
        self._kvstore.pull(self._key, out=flag)
        if flag.asscalar() < job.num_workers():
            raise StopIteration
        return batch
