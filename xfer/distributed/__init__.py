"""Data-parallel training and sharded feature extraction on MXNet's distributed kvstore.

Start a job with ``python -m xfer.distributed.launch -n WORKERS -s SERVERS -- python script.py``;
in the script, :func:`rank` and :func:`num_workers` say which shard of the data this worker
reads. See the docs page 'Beyond one machine'.
"""
from .job import allgather, allreduce_sum, broadcast, gather_shards, in_job, num_workers, rank

__all__ = ['rank', 'num_workers', 'in_job', 'allreduce_sum', 'allgather', 'broadcast', 'gather_shards']
