"""Concurrent callers released together, for the tests of conditional writes (locks, the registry)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def race(callers: int, attempt: Callable[[int], T]) -> tuple[dict[int, T], list[BaseException]]:
    """Run ``attempt(i)`` for each caller ``i`` in its own thread, all released by one barrier.

    Returns what each caller that succeeded returned, by caller, and what the others raised.
    """
    barrier = threading.Barrier(callers)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = attempt(i)
        except BaseException as exc:  # handed to the test, which asserts on it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors
