"""Which samples a worker reads: strided shards, as :mod:`xfer.data` makes them."""
import numpy as np


def shard_indices(num_samples, num_parts, part_index):
    """Positions of the samples in shard ``part_index`` of ``num_parts``: ``part_index, part_index + num_parts, ...``."""
    return np.arange(part_index, num_samples, num_parts)
