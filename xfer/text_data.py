"""Former home of the offline text corpora, now :mod:`xfer.data.text`.

Kept so that ``from xfer import text_data`` and ``import xfer.text_data`` keep working: the old
name is bound to the same module object, so attributes set on one are seen through the other.
"""
import sys

from .data import text

sys.modules[__name__] = text
