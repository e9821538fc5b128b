"""Rows of features gathered batch by batch without re-stacking what was already gathered."""
import ctypes

import numpy as np
from mxnet.base import _LIB, check_call


class FeatureBuffer:
    """A 2-D array that grows by whole batches.

    Memory is reserved once when the number of rows is known in advance (``expected_rows``);
    otherwise the capacity doubles when full, so the cost of growing stays linear in the rows.
    ``result()`` trims the spare rows in place, without a second copy of the matrix.
    """

    def __init__(self, expected_rows=None):
        self._expected_rows = expected_rows
        self._array = None
        self._rows = 0

    def append_ndarray(self, output, rows):
        """Copy the first ``rows`` rows of an MXNet NDArray straight into the buffer.

        MXNet writes into the reserved rows themselves (``MXNDArraySyncCopyToCPU``, what
        ``asnumpy`` uses), so no temporary numpy copy of the batch is made.
        """
        target = self._reserve(rows, int(np.prod(output.shape[1:])), np.dtype(output.dtype))
        source = output if rows == output.shape[0] else output[:rows]  # named: its handle must outlive the copy
        check_call(_LIB.MXNDArraySyncCopyToCPU(source.handle, target.ctypes.data_as(ctypes.c_void_p),
                                               ctypes.c_size_t(target.size)))

    def result(self):
        """The gathered rows; an empty ``(0, 0)`` array when nothing was appended."""
        if self._array is None:
            return np.empty((0, 0), dtype=np.float32)
        if self._rows < self._array.shape[0]:
            self._array.resize((self._rows, self._array.shape[1]), refcheck=False)
        return self._array

    def _reserve(self, rows, width, dtype):
        """The next ``rows`` rows of the buffer (C-contiguous), after allocating or growing it."""
        if self._array is None:
            self._array = np.empty((max(self._expected_rows or 0, rows), width), dtype=dtype)
        needed = self._rows + rows
        if needed > self._array.shape[0]:
            self._grow(needed)
        target = self._array[self._rows:needed]
        self._rows = needed
        return target

    def _grow(self, needed):
        capacity = max(needed, 2 * self._array.shape[0])
        grown = np.empty((capacity, self._array.shape[1]), dtype=self._array.dtype)
        grown[:self._rows] = self._array[:self._rows]
        self._array = grown
