"""The job's kvstore as ``Module.fit`` sees it: fresh keys for every fit, gradients summed only."""
import mxnet as mx

from . import job


class FitKVStore(mx.kv.KVStore):
    """A view of the job's kvstore for one ``Module.fit``.

    ``Module.fit`` names its kvstore keys after the params, so a second fit in the same process
    (another stage of progressive fine-tuning, another repurposer) would reuse them: this view
    maps each name to a key of its own. It also tells ``Module`` that it cannot run the
    optimizer, so the servers only sum gradients and every worker applies the same optimizer to
    the same summed gradients, ending with the same params.
    """

    def __init__(self, kvstore_type):
        super().__init__(job.kvstore(kvstore_type).handle)  # borrowed: the job's kvstore frees it at exit
        self._keys = {}

    def __del__(self):
        """The job's kvstore frees the handle, not this view."""

    def is_capable(self, capability):
        return False if capability.lower() == mx.kv.KVStoreBase.OPTIMIZER else super().is_capable(capability)

    def init(self, key, value):
        super().init(self._key(key), value)

    def push(self, key, value, priority=0):
        super().push(self._key(key), value, priority)

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        super().pull(self._key(key), out, priority, ignore_sparse)

    def pushpull(self, key, value, out=None, priority=0):
        super().pushpull(self._key(key), value, out, priority)

    def broadcast(self, key, value, out, priority=0):
        super().broadcast(self._key(key), value, out, priority)

    def _key(self, name):
        if isinstance(name, (list, tuple)):
            return [self._key(one) for one in name]
        if name not in self._keys:
            self._keys[name], = job.new_keys(1)
        return self._keys[name]
