"""What ``Module.fit`` needs to train data-parallel on the job's kvstore."""
from . import job
from .fit_kvstore import FitKVStore
from .lockstep_iter import LockstepIter


def prepare_fit(module, kvstore_type, train_iterator):
    """``(kvstore, train_iterator, epoch_end_callbacks)`` for ``module.fit``.

    With a ``dist_*`` kvstore: every worker starts from rank 0's params, walks its shard in
    lockstep with the others, and after each epoch averages the BatchNorm moving statistics
    (which ``Module.fit`` does not synchronise), so that the networks stay identical. Else the
    arguments come back as they are, with no extra callback.
    """
    if not job.is_distributed(kvstore_type):
        return kvstore_type, train_iterator, []
    kvstore = FitKVStore(kvstore_type)
    arg_params, aux_params = module.get_params()
    job.broadcast([params[name] for params in (arg_params, aux_params) for name in sorted(params)])
    module.set_params(arg_params, aux_params, force_init=True)
    return kvstore, LockstepIter(train_iterator), [_aux_average(module)]


def _aux_average(module):
    """An ``epoch_end_callback`` replacing the module's aux params (moving statistics) by their mean over workers."""
    def average(epoch, symbol, arg_params, aux_params):
        if not aux_params:
            return
        arrays = [aux_params[name] for name in sorted(aux_params)]
        job.sum_in_place(arrays)
        for array in arrays:
            array /= job.num_workers()
        module.set_params(arg_params, aux_params, force_init=True)
    return average
