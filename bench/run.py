"""Benchmark the release build and the busiest pages at world scale; one line per figure, with targets.

    python bench/run.py [--database-url URL] [--quick] [--requests N]

Without --database-url the data is generated into a temporary SQLite file (200 countries, 4 rounds,
1-3 citations per answer; --quick: 20 countries, 1 round). A URL naming an empty database is filled
the same way; one that already holds data is used as it is (then an extra open round is added to it).
Everything written is synthetic demonstration data.

The exit status is 1 when any figure misses its target (a FAIL line) or could not be measured (a
"not available" line), with a last line naming them; 0 when every check passed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import analyze, generate, open_round  # noqa: E402
from rightsdb import create_app  # noqa: E402
from rightsdb.models import Country, Release, User  # noqa: E402

RELEASE_SECONDS = 15.0
RELEASE_RATIO = 3.0
RELEASE_BYTES = 1024**3
PAGE_MEDIAN_MS = 150.0
PAGE_P95_MS = 300.0
BASELINE_SQL = """
SELECT c.iso3, c.name AS country, r.name AS round, r.reference_date, d.indicator_id, d.value, d.outcome, d.reason
FROM decisions d
JOIN country_rounds cr ON cr.id = d.country_round_id
JOIN rounds r ON r.id = cr.round_id
JOIN countries c ON c.iso3 = cr.country_iso3
WHERE cr.finalized_at IS NOT NULL
ORDER BY c.iso3, r.name, d.indicator_id
"""


#: The checks of this run that failed or could not be measured, in order; `main` exits 1 if any.
FAILED: list[str] = []


def verdict(ok: bool, check: str) -> str:
    """Say PASS or FAIL, and remember a failed check."""
    if not ok:
        FAILED.append(check)
    return "PASS" if ok else "FAIL"


def unavailable(check: str, why: str) -> None:
    """Print that a figure could not be measured, which fails the run like a missed target."""
    FAILED.append(check)
    print(f"{check}: not available ({why})")


def rss_bytes() -> int:
    """Return the process's peak resident set size so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def counting(engine: sa.Engine):
    """Count the SQL statements run on `engine` inside the block (same rule as tests/factories/querycount.py)."""
    log: list[str] = []

    def _before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            log.append(statement)

    sa.event.listen(engine, "before_cursor_execute", _before)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", _before)


def measure_baseline(engine: sa.Engine, folder: Path) -> float:
    """Read the long table of final decisions with pandas and write it once as CSV; return seconds."""
    import pandas as pd

    started = time.perf_counter()
    with engine.connect() as connection:
        frame = pd.read_sql(sa.text(BASELINE_SQL), connection)
    frame.to_csv(folder / "baseline.csv", index=False, lineterminator="\n")
    elapsed = time.perf_counter() - started
    size = (folder / "baseline.csv").stat().st_size
    print(
        f"baseline (pd.read_sql of decisions x country_rounds x rounds x countries, {len(frame)} rows, one CSV of {size / 2**20:.1f} MiB): {elapsed:.2f} s"
    )
    return elapsed


CITATIONS_SQL = """
SELECT c.iso3, r.name AS round, d.indicator_id, ci.position, s.instrument_type, s.title, ci.pinpoint,
       COALESCE(NULLIF(ci.url, ''), s.url) AS url, s.date_in_force, s.language, ci.excerpt, ci.translation
FROM decision_citations dc
JOIN decisions d ON d.id = dc.decision_id
JOIN citations ci ON ci.id = dc.citation_id
JOIN legal_sources s ON s.id = ci.source_id
JOIN country_rounds cr ON cr.id = d.country_round_id
JOIN rounds r ON r.id = cr.round_id
JOIN countries c ON c.iso3 = cr.country_iso3
WHERE cr.finalized_at IS NOT NULL
ORDER BY c.iso3, r.name, d.indicator_id, ci.position, ci.id
"""


def measure_content_baseline(engine: sa.Engine, folder: Path, baseline: float) -> float:
    """The baseline plus the citations behind the values read the same way and written once as CSV; return seconds.

    No target: it shows how much of the release build is the citations' ~100 MB of text, which the
    issue's baseline (the long table alone) leaves out.
    """
    import pandas as pd

    started = time.perf_counter()
    with engine.connect() as connection:
        frame = pd.read_sql(sa.text(CITATIONS_SQL), connection)
    frame.to_csv(folder / "baseline-citations.csv", index=False, lineterminator="\n")
    elapsed = baseline + time.perf_counter() - started
    size = (folder / "baseline-citations.csv").stat().st_size
    print(
        f"content baseline (the baseline, then pd.read_sql of the {len(frame)} citations behind the values and one CSV of {size / 2**20:.0f} MiB): "
        f"{elapsed:.2f} s"
    )
    return elapsed


def build_release(app, version: str, *, keep: bool) -> float:
    """Publish a release of every final synthetic country-round (every file format); return seconds."""
    from sqlmodel import Session

    from rightsdb.publishing.publish import discard_release_files, publish_release

    engine = app.extensions["rightsdb.engine"]
    codebook = app.extensions["rightsdb.codebook"]
    exports_dir = app.config["EXPORTS_DIR"]
    with Session(engine, expire_on_commit=False) as session:
        admin = session.exec(sa.select(User.id).where(User.role == "admin")).first()
        started = time.perf_counter()
        publish_release(
            session=session,
            codebook=codebook,
            exports_dir=exports_dir,
            version=version,
            release_date=date(2026, 6, 1),
            synthetic=True,
            user_id=admin[0] if admin else None,
            title="Benchmark release (synthetic demonstration data)",
        )
        if keep:
            session.commit()
        elapsed = time.perf_counter() - started
        if not keep:
            session.rollback()
            discard_release_files(exports_dir=exports_dir, version=version)
    return elapsed


def breakdown_release(app, version: str) -> None:
    """Print where the release build spends its time, stage by stage (snapshot, tables, each format).

    The stages run one after the other here; in `publish_release` the database writes the snapshot
    and a second thread writes the workbook while the CSV, Stata and Parquet files are written, so
    the build takes less than their sum.
    """
    import io

    from sqlmodel import Session

    from rightsdb.publishing.collect import collect_final
    from rightsdb.publishing.formats import FORMATS
    from rightsdb.publishing.formats.csv import csv_bytes
    from rightsdb.publishing.formats.xlsx import write_xlsx, xlsx_sheets
    from rightsdb.publishing.publish import get_release
    from rightsdb.publishing.snapshot import hold_sources, load_snapshot, release_inputs
    from rightsdb.publishing.tables import release_tables

    codebook = app.extensions["rightsdb.codebook"]
    stages = []

    def timed(label, function):
        started = time.perf_counter()
        result = function()
        stages.append((label, time.perf_counter() - started))
        return result

    with Session(app.extensions["rightsdb.engine"]) as session:
        hold_sources(session)  # as publication does (on PostgreSQL it also gives the sorts their memory)
        rows = timed(
            "collect_final (3 queries: decisions with both coders' answers, sources, citations)",
            lambda: collect_final(session=session, codebook=codebook, synthetic=True),
        )
        release = get_release(session=session, version=version)
        scratch = Release(
            version=f"{version}-breakdown",
            title="scratch",
            release_date=release.release_date,
            codebook_version=release.codebook_version,
            scheme=release.scheme,
            aggregation=release.aggregation,
            synthetic=True,
        )
        session.add(scratch)
        session.flush()
        timed(
            "snapshot (INSERT ... SELECT of values and citations, in the database; rolled back here)",
            lambda: load_snapshot(session.connection(), release_id=scratch.id, rows=rows, synthetic=True, codebook=codebook),
        )
        session.rollback()
        inputs = timed(
            "release_inputs (read a snapshot back: what a public page's first request does)",
            lambda: release_inputs(session=session, release=release),
        )
    tables = timed(
        "release_tables (long, matrix, scores, codebook, countries, reliability, citations)",
        lambda: release_tables(
            inputs.records, countries=inputs.countries, codebook=codebook, scheme_id=release.scheme, citations=inputs.citations
        ),
    )
    timed("CSV of every table", lambda: [csv_bytes(frame) for frame in tables.values()])
    timed("Excel workbook (every table; on its own thread in the build)", lambda: write_xlsx(io.BytesIO(), xlsx_sheets(tables)))
    with tempfile.TemporaryDirectory() as folder:
        for file_format in FORMATS:
            timed(
                f"{file_format.name} ({', '.join(file_format.tables)})",
                lambda file_format=file_format: [
                    file_format.write(Path(folder) / f"{name}.{file_format.extension}", tables[name], release=release, labels={})
                    for name in file_format.tables
                ],
            )
    for label, seconds in stages:
        print(f"release build stage: {label}: {seconds:.2f} s ({len(rows)} rows)")


def bench_release(app, baseline: float, *, content: float | None = None, breakdown: bool = True, trace: bool = True) -> bool:
    """Print the release build figures; return whether a release was published."""
    try:
        from rightsdb.publishing.publish import publish_release  # noqa: F401
    except ImportError as exc:
        unavailable("release build", str(exc))
        return False
    rss_before = rss_bytes()
    try:
        seconds = build_release(app, "1.0.0", keep=True)
    except Exception as exc:  # the release module belongs to another engineer and may be unfinished
        unavailable("release build", f"{type(exc).__name__}: {exc}")
        return False
    rss_after = rss_bytes()
    ratio = seconds / baseline if baseline else float("inf")
    grown = rss_after - rss_before
    print(
        f"release build wall time (publish_release, every file format): {seconds:.2f} s  target < {RELEASE_SECONDS:.0f} s  {verdict(seconds < RELEASE_SECONDS, 'release build wall time')}"
    )
    print(
        f"release build / baseline: {ratio:.1f}x  target < {RELEASE_RATIO:.0f}x  {verdict(ratio < RELEASE_RATIO, 'release build / baseline')}"
    )
    if content:
        print(f"release build / content baseline (no target): {seconds / content:.1f}x")
    print(
        f"release build peak memory (ru_maxrss delta: growth of the process's peak RSS during the build; "
        f"process peak {rss_after / 2**20:.0f} MiB): {grown / 2**20:.0f} MiB  target < 1024 MiB  {verdict(grown < RELEASE_BYTES, 'release build peak memory (ru_maxrss)')}"
    )
    folder = Path(app.config["EXPORTS_DIR"]) / "1.0.0"
    files = [f for f in folder.rglob("*") if f.is_file()]
    print(
        f"release build output (what the ratio compares with one CSV): {len(files)} files, {sum(f.stat().st_size for f in files) / 2**20:.0f} MiB "
        f"(citations.csv alone {(folder / 'data' / 'citations.csv').stat().st_size / 2**20:.0f} MiB)"
    )
    if trace:
        # A second, throw-away build under tracemalloc (which slows it down, so it is not timed). It
        # also compares with release 1.0.0 for the changelog, so it does slightly more than the first.
        tracemalloc.start()
        try:
            build_release(app, "1.0.1-memory", keep=False)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(
            f"release build peak memory (tracemalloc peak of Python allocations, second build): {peak / 2**20:.0f} MiB  "
            f"target < 1024 MiB  {verdict(peak < RELEASE_BYTES, 'release build peak memory (tracemalloc)')}"
        )
    if breakdown:
        breakdown_release(app, "1.0.0")
    return True


def signed_in(app, user_id: int):
    """Return a test client signed in as a user, without the password form."""
    with app.extensions["rightsdb.engine"].connect() as connection:
        nonce = connection.execute(sa.select(User.session_nonce).where(User.id == user_id)).scalar_one()
    client = app.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = f"{user_id}:{nonce}"
        flask_session["_fresh"] = True
    return client


def bench_page(app, client, label: str, url: str, requests: int) -> None:
    """Print the first request, then median and p95 of `requests` more, with the SQL query count."""
    engine = app.extensions["rightsdb.engine"]
    with counting(engine) as log:
        started = time.perf_counter()
        response = client.get(url)
        first_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        unavailable(f"{label} ({url})", f"HTTP {response.status_code}")
        return
    first_queries = len(log)
    times = []
    cpu = []
    queries = 0
    for _ in range(requests):
        with counting(engine) as log:
            started, cpu_started = time.perf_counter(), time.process_time()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        queries = len(log)
    median = statistics.median(times)
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]
    ok = median < PAGE_MEDIAN_MS and p95 < PAGE_P95_MS
    print(
        f"{label} ({url}): median {median:.0f} ms (target < {PAGE_MEDIAN_MS:.0f}), p95 {p95:.0f} ms (target < {PAGE_P95_MS:.0f}), "
        f"{queries} queries, {len(response.data) // 1024} KiB, median CPU {statistics.median(cpu):.0f} ms in this process; first request {first_ms:.0f} ms, {first_queries} queries  {verdict(ok, label)}"
    )


def bench_pages(app, opened: dict[str, dict], requests: int, published: bool) -> None:
    """Time the coder's form, the reconciliation pages and the public pages and API."""
    codebook = app.extensions["rightsdb.codebook"]
    coding = next(v for v in opened.values() if v["state"] == "coding")
    reconciling = next(v for v in opened.values() if v["state"] == "reconciliation")
    with app.extensions["rightsdb.engine"].connect() as connection:
        supervisor = connection.execute(sa.select(User.id).where(User.role == "supervisor").order_by(User.id)).scalar()
        iso3 = connection.execute(sa.select(Country.iso3).order_by(Country.iso3)).scalar()
    coder = signed_in(app, coding["coders"][0])
    boss = signed_in(app, supervisor)
    anonymous = app.test_client()
    n = len(codebook.indicator_ids)
    bench_page(app, coder, f"coder form ({n} indicators)", f"/coder/assignments/{coding['assignments']['A']}", requests)
    bench_page(app, boss, "reconciliation view (country-round)", f"/supervisor/country-rounds/{reconciling['country_round_id']}", requests)
    bench_page(
        app,
        boss,
        "reconciliation view (one indicator)",
        f"/supervisor/country-rounds/{reconciling['country_round_id']}/indicators/{reconciling['disagreements'][0]}",
        requests,
    )
    bench_page(app, boss, "supervisor progress board", "/supervisor/", requests)
    if not published:
        for label in ("public comparison", "country page", "indicator page", "custom-table download", "API matrix"):
            unavailable(label, "no published release")
        return
    category = codebook.categories[0].id
    bench_page(app, anonymous, "public comparison (all countries)", "/", requests)
    bench_page(app, anonymous, "country page", f"/countries/{iso3}", requests)
    bench_page(app, anonymous, "indicator page", f"/indicators/{codebook.indicator_ids[0]}", requests)
    bench_page(app, anonymous, "custom-table download (CSV, one category, all countries)", f"/table.csv?category={category}", requests)
    bench_page(app, anonymous, "API matrix", "/api/v1/matrix", requests)


def main(argv: list[str] | None = None) -> int:
    """Generate (if needed), then print every figure with its target; return 1 if any check failed, else 0."""
    FAILED.clear()
    parser = argparse.ArgumentParser(description="Benchmark rightsdb at world scale (synthetic data).")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--quick", action="store_true", help="20 countries, 1 round (CI smoke test)")
    parser.add_argument("--requests", type=int, default=0, help="requests per page (default 20; 5 with --quick)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the (slow) tracemalloc measurement of the release build")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the stage-by-stage timing of the release build")
    args = parser.parse_args(argv)
    countries, rounds = (20, 1) if args.quick else (200, 4)
    requests = args.requests or (5 if args.quick else 20)
    with tempfile.TemporaryDirectory(prefix="rightsdb-bench-") as temporary:
        folder = Path(temporary)
        url = args.database_url or f"sqlite:///{folder / 'bench.sqlite'}"
        print(f"database: {sa.engine.make_url(url).render_as_string(hide_password=True)}")
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
                "EXPORTS_DIR": str(folder / "exports"),
                "WTF_CSRF_ENABLED": False,
            }
        )
        engine = app.extensions["rightsdb.engine"]
        codebook = app.extensions["rightsdb.codebook"]
        has_data = False
        if sa.inspect(engine).has_table("countries"):
            with engine.connect() as connection:
                has_data = bool(connection.execute(sa.select(sa.func.count()).select_from(Country.__table__)).scalar())
        if not has_data:
            started = time.perf_counter()
            generate(url, countries=countries, rounds=rounds, citations=(1, 3), seed=1, codebook=codebook)
            print(f"generate ({countries} countries, {rounds} rounds, 1-3 citations): {time.perf_counter() - started:.1f} s")
        with engine.connect() as connection:
            isos = list(connection.execute(sa.select(Country.iso3).order_by(Country.iso3).limit(2)).scalars())
            releases = connection.execute(sa.select(sa.func.count()).select_from(Release.__table__)).scalar()
        opened = open_round(engine, codebook, coding=isos[:1], reconciliation=isos[1:2], seed=7)
        analyze(engine)  # planner statistics, as a live server's autovacuum keeps them
        for key, state in zip(isos, ("coding", "reconciliation")):
            opened[key]["state"] = state
        baseline = measure_baseline(engine, folder)
        content = measure_content_baseline(engine, folder, baseline)
        published = (
            bench_release(app, baseline, content=content, breakdown=not args.no_breakdown, trace=not args.no_tracemalloc)
            if not releases
            else True
        )
        bench_pages(app, opened, requests, published)
        engine.dispose()
    if FAILED:
        print(f"bench: {len(FAILED)} check(s) failed: {'; '.join(FAILED)}")
        return 1
    print("bench: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
