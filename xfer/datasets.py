"""Former home of the offline image data sets, now :mod:`xfer.data.datasets`.

Kept so that ``from xfer import datasets`` and ``import xfer.datasets`` keep working: the old
name is bound to the same module object, so attributes set on one are seen through the other.
"""
import sys

from .data import datasets

sys.modules[__name__] = datasets
