"""Real concurrent requests for race tests: calls on threads released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_together(*calls: Callable) -> list:
    """Run the calls on threads released together; return their results (re-raising any exception)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(n, call):
        barrier.wait(timeout=30)
        try:
            results[n] = call()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request never finished (deadlock?)"
    if errors:
        raise errors[0]
    return results
