"""Where a release is built: a hidden temporary sibling of its folder, held by its build, published readable.

A build writes into `exports/.VERSION.<random>.partial` (mkdtemp's name) and renames it to `exports/VERSION` at the end.
The build holds an exclusive lock (flock) on its temporary folder for as long as it lives; the kernel
drops the lock when the process ends, also when it is killed. So a temporary folder nobody holds
belongs to a dead build and can go (`remove_stale_builds`), while a folder of a live build, of any
version, is never touched. A release folder is public data that a proxy or backup account must read:
it is published 0755 with 0644 files, not with the 0700 of a fresh temporary folder.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
FOLDER_MODE, FILE_MODE = 0o755, 0o644


def _open_folder(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


@contextmanager
def building_folder(folder: Path) -> Iterator[Path]:
    """Yield a new temporary sibling of `folder`, locked by this build until the block ends (removed after an error)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=PARTIAL_SUFFIX, dir=folder.parent))
        # A cleaner may find the new folder before this build locks it, and remove it as a dead
        # build's: then it is gone before the open, or (the lock waits for the cleaner) has no links
        # left after the lock, and another is made.
        try:
            handle = _open_folder(temporary)
        except FileNotFoundError:
            continue
        fcntl.flock(handle, fcntl.LOCK_EX)
        if os.fstat(handle).st_nlink > 0:
            break
        os.close(handle)
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    finally:
        os.close(handle)


def make_readable(folder: Path) -> None:
    """Give a release folder, its subfolders and files the modes of published data: 0755 and 0644."""
    folder.chmod(FOLDER_MODE)
    for root, folders, files in os.walk(folder):
        for name in folders:
            Path(root, name).chmod(FOLDER_MODE)
        for name in files:
            Path(root, name).chmod(FILE_MODE)


def remove_stale_builds(exports_dir: str | Path) -> list[str]:
    """Remove the temporary folders of builds that are no longer running (killed); return their names.

    A folder whose lock cannot be taken belongs to a live build and is left alone.
    """
    removed = []
    for leftover in sorted(Path(exports_dir).glob(f".*{PARTIAL_SUFFIX}")):
        try:
            handle = _open_folder(leftover)
        except OSError:
            continue  # renamed into place or removed meanwhile, or not a folder
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            continue  # a live build holds it
        try:
            # The same folder still under that name (not renamed into place after the glob)?
            if os.stat(leftover).st_ino == os.fstat(handle).st_ino:
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(leftover.name)
        except OSError:
            pass
        finally:
            os.close(handle)
    return removed
