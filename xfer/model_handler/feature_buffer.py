"""Rows of features gathered batch by batch without re-stacking what was already gathered."""
import numpy as np


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

    def append(self, batch):
        """Copy a batch of shape ``(n, ...)`` in as ``n`` rows of flattened features."""
        batch = batch.reshape(batch.shape[0], -1)
        if self._array is None:
            capacity = max(self._expected_rows or 0, batch.shape[0])
            self._array = np.empty((capacity, batch.shape[1]), dtype=batch.dtype)
        needed = self._rows + batch.shape[0]
        if needed > self._array.shape[0]:
            self._grow(needed)
        self._array[self._rows:needed] = batch
        self._rows = needed

    def result(self):
        """The gathered rows; an empty ``(0, 0)`` array when nothing was appended."""
        if self._array is None:
            return np.empty((0, 0), dtype=np.float32)
        if self._rows < self._array.shape[0]:
            self._array.resize((self._rows, self._array.shape[1]), refcheck=False)
        return self._array

    def _grow(self, needed):
        capacity = max(needed, 2 * self._array.shape[0])
        grown = np.empty((capacity, self._array.shape[1]), dtype=self._array.dtype)
        grown[:self._rows] = self._array[:self._rows]
        self._array = grown
