"""Fixed-size binary Arrow columns and the 2-D numpy arrays they hold (signatures, band
values, content hashes): one value per row, its bytes in row order, with no copy on the way
back where the column is one chunk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def fixed_binary(values: np.ndarray) -> pa.FixedSizeBinaryArray:
    """Each row of a 2-D array as one fixed-size binary value."""
    values = np.ascontiguousarray(values)
    width = values.shape[1] * values.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(values.tobytes())])


def fixed_width(column: pa.Array | pa.ChunkedArray, width: int, dtype) -> np.ndarray:
    """A fixed-size binary column as an (n × width) array of `dtype` items."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    raw = np.frombuffer(array.buffers()[1], dtype=dtype)
    return raw[array.offset * width:(array.offset + len(array)) * width].reshape(-1, width)
