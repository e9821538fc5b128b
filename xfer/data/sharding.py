"""Which samples a worker reads when the data is split over ``num_parts`` workers."""
import numpy as np


def shard_indices(num_samples, num_parts=1, part_index=0):
    """Positions of the samples that worker ``part_index`` of ``num_parts`` reads.

    Shards are strided: worker ``p`` reads samples ``p, p + num_parts, p + 2 num_parts, ...``.
    So every sample is in exactly one shard, shard sizes differ by at most one, and data sorted
    by class (as an image folder is) gives every worker every class. ``num_parts`` and
    ``part_index`` are named as in MXNet's record iterators.

    Raises
    ------
    ValueError
        If ``num_parts`` is not a positive int, ``part_index`` is not in ``0..num_parts-1``, or
        there are fewer samples than parts (a worker would get none).
    """
    _check_int(num_parts, 'num_parts', minimum=1)
    _check_int(part_index, 'part_index', minimum=0)
    if part_index >= num_parts:
        raise ValueError('part_index must be in 0..{} for num_parts={}, got {}'.format(
            num_parts - 1, num_parts, part_index))
    if num_samples < num_parts:
        raise ValueError('Cannot split {} samples into num_parts={} shards: each worker needs at least one '
                         'sample'.format(num_samples, num_parts))
    return np.arange(part_index, num_samples, num_parts)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError('{} must be an int >= {}, got {!r}'.format(name, minimum, value))
