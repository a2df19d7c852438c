import numpy as np

from core.predict.rowstore import RowStore


def test_rows_come_back_in_order_across_blocks():
    store = RowStore(block_rows=4)
    parts = [np.arange(n * 10, n * 10 + n * 3, dtype=np.float32).reshape(n, 3) for n in (1, 5, 2, 7)]
    for part in parts:
        store.append(part)
    assert store.rows == 15
    joined = store.array()
    assert joined.dtype == np.float32 and joined.shape == (15, 3)
    assert np.array_equal(joined, np.concatenate(parts))


def test_text_of_growing_width_is_never_cut():
    store = RowStore(block_rows=3)
    store.append(np.array(["7", "42"]))
    store.append(np.array(["1234567", "x"]))
    assert list(store.array()) == ["7", "42", "1234567", "x"]


def test_numbers_then_text_keeps_both():
    store = RowStore(block_rows=2)
    store.append(np.array([3, 4, 5]))
    store.append(np.array(["cat"], dtype=object))
    assert list(store.array()) == [3, 4, 5, "cat"]


def test_empty_store_has_the_requested_shape():
    assert RowStore().array((0, 10)).shape == (0, 10)
