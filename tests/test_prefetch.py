"""prefetched: an iterator run ahead in a thread, with errors and early stops handled."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from openlipsync.prefetch import prefetched


def test_items_arrive_in_order_from_another_thread() -> None:
    producers = []

    def numbers() -> Iterator[int]:
        for k in range(50):
            producers.append(threading.get_ident())
            yield k

    assert list(prefetched(numbers(), 3)) == list(range(50))
    assert set(producers) == {producers[0]} and producers[0] != threading.get_ident()


def test_a_producer_error_is_raised_in_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetched(broken(), 2):
            got.append(item)
    assert got == [1]


def test_stopping_early_stops_the_producer_and_closes_the_source() -> None:
    state = {"made": 0, "closed": False}

    def endless() -> Iterator[int]:
        try:
            while True:
                state["made"] += 1
                yield state["made"]
        finally:
            state["closed"] = True

    items = prefetched(endless(), 2)
    assert [next(items) for _ in range(3)] == [1, 2, 3]
    items.close()  # type: ignore[attr-defined]
    assert state["closed"]
    assert state["made"] <= 3 + 2 + 2  # consumed + queue depth + the item in flight
