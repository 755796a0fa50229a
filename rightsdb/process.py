"""Everything that changes the whole process, in one place: the garbage-collector policy and pygal's import hook.

Python's cyclic collector walks every container object at each full collection. Two kinds of objects
make that walk expensive here, and neither forms reference cycles, so reference counting alone frees
them correctly:

- the objects alive after start-up (modules, the codebook, form classes, templates) and the derived
  data of a large published release (the public catalog), which live as long as the process: they are
  moved to the collector's permanent generation (`gc.freeze`) and never scanned again;
- the millions of short-lived rows of a release build or verification: the collector is paused for
  the duration (`collector_paused`).

bench/README.md gives the figures behind each (request latency spikes, build CPU time).

pygal appends an import hook to `sys.meta_path` (for its `pygal.maps.world` alias) that has no
`find_spec`, so every later failed import in the process raises ImportWarning;
`drop_pygal_import_hook` removes it (the map module imports the world map directly).

Nothing else in the package touches `gc` or `sys.meta_path`; a test keeps it that way.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_startup_objects() -> None:
    """Move the objects alive after start-up out of the collector's reach (server processes only).

    Not done for tests, which create many apps in one process and would keep the cycles of each.
    """
    gc.collect()
    gc.freeze()


def freeze_long_lived() -> None:
    """Collect garbage, then move every live object (a freshly built catalog) to the permanent generation.

    Frozen objects are still freed by reference counting; only a reference cycle among them would
    outlive its use (a catalog has none).
    """
    gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block, then restore it (reference counting goes on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def with_collector_paused(function):
    """Decorate `function` to run inside `collector_paused()`."""

    @functools.wraps(function)
    def paused(*args, **kwargs):
        with collector_paused():
            return function(*args, **kwargs)

    return paused


def drop_pygal_import_hook() -> None:
    """Remove the import hook that importing pygal appends to `sys.meta_path` (see the module notes)."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"]
