"""Run the `rightsdb` command paused at a crash point, for the tests that kill it there.

    python -m tests.crash_points release -- release build 1.0.0 --synthetic
    python -m tests.crash_points import=1 -- import FILE --round 2026 ...

`release` waits once every file is written in the temporary folder, before it is renamed into place;
`import=N` waits once N rows are written (flushed, not committed). Each prints one line on stderr
starting with "paused" and sleeps until the test kills it. The hooks are patched in here, in the test
process, so production code carries none.
"""

from __future__ import annotations

import sys
import time

from rightsdb.importing import importer
from rightsdb.ops import cli
from rightsdb.publishing import publish


def pause(message: str) -> None:
    """Say where the command stopped, then wait to be killed."""
    print(message, file=sys.stderr, flush=True)
    time.sleep(3600)


def pause_before_rename() -> None:
    """Pause a release build with its files complete in the temporary folder."""
    real = publish.move_into_place

    def paused(temporary, folder):
        pause(f"paused with the files in {temporary} (crash point)")
        real(temporary, folder)

    publish.move_into_place = paused


def pause_after_rows(rows: int) -> None:
    """Pause an import once `rows` rows are written."""
    real = importer.import_codings

    def paused_import(**kwargs):
        progress = kwargs["progress"]

        def report(stage: str, done: int, total: int) -> None:
            progress(stage, done, total)
            if stage == "written" and done >= rows:
                pause(f"paused after writing {done} rows (crash point)")

        return real(**{**kwargs, "progress": report})

    importer.import_codings = paused_import


def main() -> None:
    """Install the crash point named by the first argument, then run the command after `--`."""
    point, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: python -m tests.crash_points POINT -- ARGS..."
    if point == "release":
        pause_before_rename()
    elif point.startswith("import="):
        pause_after_rows(int(point.removeprefix("import=")))
    else:
        raise SystemExit(f"unknown crash point {point!r}")
    cli.main(args, prog_name="rightsdb")


if __name__ == "__main__":
    main()
