"""`bench/run.py --quick` runs end to end and prints one line per figure of issue #7 (not their values: timing is bench's job)."""

from __future__ import annotations

import re

from bench.run import main

FIGURES = [
    r"^baseline \(.*\): [\d.]+ s$",
    r"^release build wall time .*: [\d.]+ s  target < 15 s  (PASS|FAIL)$",
    r"^release build / baseline: [\d.]+x  target < 3x  (PASS|FAIL)$",
    r"^content baseline \(.* \d+ citations .*\): [\d.]+ s$",
    r"^release build / content baseline \(no target\): [\d.]+x$",
    r"^release build peak memory \(ru_maxrss .*: \d+ MiB  target < 1024 MiB  (PASS|FAIL)$",
    r"^release build output .*: 19 files, \d+ MiB",
    r"^release build stage: collect_final .*: [\d.]+ s",
    r"^release build stage: snapshot .*: [\d.]+ s",
    r"^release build stage: Excel workbook .*: [\d.]+ s",
]
PAGES = [
    "coder form",
    "reconciliation view (country-round)",
    "reconciliation view (one indicator)",
    "supervisor progress board",
    "public comparison",
    "country page",
    "indicator page",
    "custom-table download",
    "API matrix",
]


def test_quick_bench_prints_every_figure_with_its_query_count(capsys):
    status = main(["--quick", "--requests", "2", "--no-tracemalloc"])
    lines = capsys.readouterr().out.splitlines()
    assert status == (1 if any(line.endswith("FAIL") for line in lines) else 0)  # a missed target fails the run
    for pattern in FIGURES:
        assert any(re.match(pattern, line) for line in lines), pattern
    for page in PAGES:
        line = next((line for line in lines if line.startswith(page)), None)
        assert line is not None, page
        assert re.search(r"median \d+ ms .*p95 \d+ ms .*, \d+ queries, .*(PASS|FAIL)$", line), line
        assert "not available" not in line
