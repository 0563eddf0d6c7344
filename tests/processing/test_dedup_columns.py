"""Fixed-size binary columns round-trip the 2-D arrays they hold, sliced and chunked too."""

import numpy as np
import pyarrow as pa

from processing.dedup.columns import fixed_binary, fixed_width


def test_rows_round_trip_through_a_fixed_size_binary_column() -> None:
    values = np.arange(5 * 3, dtype="<u4").reshape(5, 3)
    column = fixed_binary(values)
    assert column.type == pa.binary(12)
    assert column[1].as_py() == values[1].tobytes()
    assert (fixed_width(column, 3, "<u4") == values).all()


def test_a_slice_and_several_chunks_give_their_own_rows() -> None:
    hashes = np.random.default_rng(0).integers(0, 256, (6, 32), dtype=np.uint8)
    column = fixed_binary(hashes)
    assert (fixed_width(column.slice(2, 3), 32, np.uint8) == hashes[2:5]).all()
    chunked = pa.chunked_array([column.slice(0, 2), column.slice(4, 2)])
    assert (fixed_width(chunked, 32, np.uint8) == hashes[[0, 1, 4, 5]]).all()
    assert fixed_width(fixed_binary(hashes[:0]), 32, np.uint8).shape == (0, 32)
