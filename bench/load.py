"""Load test: many coders save through the real forms of a gunicorn server; every acknowledged save must stick.

    python bench/load.py [--database-url URL] [--duration 30] [--coders 24] [--countries 12]
                         [--workers 2] [--threads 4]

The database (default postgresql+psycopg://postgres@127.0.0.1:5432/load_test; create it first with
`createdb load_test`) must be empty or hold an earlier run of this script: it is wiped, migrated with
Alembic and filled with synthetic demonstration data (fictional countries with ISO 3166 user-assigned
codes, one round, two coders per country, one legal source per country). gunicorn then serves
`rightsdb:create_app()` on a free port of 127.0.0.1 and one thread per coder, each with its own HTTP
session, for `--duration` seconds (and at least one save each): signs in through the login form (CSRF
token read from the page), opens its assignment from the dashboard, then one category, and repeatedly
posts the coding form exactly as a browser would (every field of the page, the hidden answer versions
and CSRF token of the page just loaded), changing that category's answers and notes and adding one
citation whose excerpt holds a unique marker; it follows the redirect (whose page must say "Saved") and
moves to the next category every fourth save. Afterwards the database is checked: every acknowledged save's marker is
in exactly one citation, and no request failed (no 5xx, no connection error, no conflict). One line per
figure: throughput, then p50/p95/p99 latency per request type. Exit status 1 if an invariant fails.
The server is always stopped, also on failure.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests
import sqlalchemy as sa
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rightsdb.codebook import load_codebook  # noqa: E402
from rightsdb.config import Settings  # noqa: E402
from rightsdb.models import Assignment, Country, CountryRound, LegalSource, Round, User  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/load_test"
PASSWORD = "load test password 2026"
EMAIL_DOMAIN = "load.example.org"
ROUND_NAME = "load-test"
REQUEST_TIMEOUT = 60  # seconds; a request slower than this counts as a connection error
MAX_SAVES_PER_CODER = 100_000  # a hard bound on every coder's loop besides the deadline
# Fictional jurisdictions: ISO 3166 user-assigned codes only (never XKX, used for Kosovo).
LETTERS = "ABCDEGHIJLMNOPQRSTUVWYZ"
REQUEST_TYPES = ("login_page", "login", "dashboard", "page", "save")
SAVED_FLASH = re.compile(r"Saved \([1-9]\d* indicator\(s\) changed\)\.")


def fictional_countries(count: int) -> list[Country]:
    """Return `count` synthetic countries with user-assigned codes XAA, XBB, ... (never XKX)."""
    if count > len(LETTERS):
        raise SystemExit(f"At most {len(LETTERS)} countries.")
    return [
        Country(iso3=f"X{c}{c}", iso2=f"X{c}", numeric=f"{900 + n + 1}", name=f"Synthetic Loadland {c}", region="Load test", synthetic=True)
        for n, c in enumerate(LETTERS[:count])
    ]


def coder_email(n: int) -> str:
    return f"coder{n:03d}@{EMAIL_DOMAIN}"


def reset_database(url: str) -> None:
    """Wipe a database that is empty or holds an earlier load test, then migrate it with Alembic."""
    from rightsdb.ops.migrate import upgrade

    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            tables = sa.inspect(connection).get_table_names()
            if "users" in tables:
                foreign = connection.execute(
                    sa.text("SELECT count(*) FROM users WHERE email NOT LIKE :ours"), {"ours": f"%@{EMAIL_DOMAIN}"}
                ).scalar_one()
                if foreign:
                    raise SystemExit(f"{url} holds other data (users outside {EMAIL_DOMAIN}); use an empty database.")
            elif tables and tables != ["alembic_version"]:
                raise SystemExit(f"{url} holds tables that are not rightsdb's; use an empty database.")
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
            else:
                for table in tables:
                    connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')
    finally:
        engine.dispose()
    upgrade(url)


def load_fixtures(url: str, *, coders: int, countries: int) -> list[dict]:
    """Add one round, the countries, one source each and `coders` coders with one assignment each."""
    from werkzeug.security import generate_password_hash

    if coders > 2 * countries:
        raise SystemExit(f"{coders} coders need at least {(coders + 1) // 2} countries (two slots each).")
    codebook = load_codebook(Settings().CODEBOOK_PATH)
    password_hash = generate_password_hash(PASSWORD)  # once: hashing is deliberately slow
    engine = sa.create_engine(url)
    people = []
    try:
        with Session(engine) as session:
            round_ = Round(
                name=ROUND_NAME,
                reference_date=date(2026, 1, 1),
                codebook_version=codebook.version,
                notes="Synthetic demonstration data for the load test.",
            )
            session.add(round_)
            users = [
                User(
                    email=coder_email(n),
                    name=f"Load Coder {n}",
                    role="coder",
                    password_hash=password_hash,
                    session_nonce=secrets.token_hex(16),
                )
                for n in range(1, coders + 1)
            ]
            lands = fictional_countries(countries)
            session.add_all(users + lands)
            session.flush()
            for land in lands:
                session.add(
                    LegalSource(
                        country_iso3=land.iso3,
                        instrument_type=codebook.instrument_types[0].code,
                        title=f"Aliens Act of {land.name}",
                        url="https://example.org/aliens-act",
                        language="en",
                    )
                )
            country_rounds = [CountryRound(round_id=round_.id, country_iso3=land.iso3) for land in lands]
            session.add_all(country_rounds)
            session.flush()
            # Coders 1 and 2 code the first country (slots A and B), 3 and 4 the second, and so on.
            for n, user in enumerate(users):
                country_round = country_rounds[(n // 2) % len(country_rounds)]
                session.add(Assignment(country_round_id=country_round.id, slot="AB"[n % 2], coder_id=user.id))
                people.append({"email": user.email, "country": country_round.country_iso3})
            session.commit()
    finally:
        engine.dispose()
    return people


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn serving rightsdb on 127.0.0.1; a context manager that always stops it."""

    def __init__(self, url: str, *, workers: int, threads: int, exports_dir: str):
        self.url = url
        self.workers = workers
        self.threads = threads
        self.exports_dir = exports_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile(mode="w+b")

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "RIGHTSDB_DATABASE_URL": self.url,
            "RIGHTSDB_ENV": "development",
            "RIGHTSDB_SECRET_KEY": secrets.token_hex(32),
            "RIGHTSDB_EXPORTS_DIR": self.exports_dir,
        }
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(self.workers),
            "-k",
            "gthread",
            "--threads",
            str(self.threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--keep-alive",
            "30",
            "--graceful-timeout",
            "10",
            "rightsdb:create_app()",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}:\n{self.output()[-5000:]}")
            try:
                if requests.get(f"{self.base}/login", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {seconds} s:\n{self.output()[-5000:]}")

    def cpu_seconds(self) -> float | None:
        """Return the CPU time gunicorn's master and workers have used so far (Linux /proc), or None."""
        try:
            master = self.process.pid
            pids = [master] + [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
            total = 0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        except (OSError, ValueError, IndexError):
            return None
        return total / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        """Return everything gunicorn and the application logged so far."""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop gunicorn gracefully (SIGTERM), then kill its process group if it does not exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group started with start_new_session
            self.process.wait(timeout=10)

    def __exit__(self, *_exc) -> None:
        try:
            self.stop()
        finally:
            self.log.close()


class FormReader(HTMLParser):
    """Read a page's forms the way a browser submits them: every named field with its current value."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None
        self._textarea: list | None = None
        self._select: list | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            self._form = {"action": a.get("action", ""), "fields": [], "buttons": []}
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            name = a.get("name")
            if not name or "disabled" in a:
                return
            if kind in ("radio", "checkbox"):
                self._form["fields"].append([name, a.get("value", "on"), "checked" in a, kind])
            elif kind == "submit":
                self._form["buttons"].append((name, a.get("value", "")))
            elif kind not in ("file", "image", "reset", "button"):
                self._form["fields"].append([name, a.get("value", ""), True, kind])
        elif tag == "button" and (a.get("type") or "submit") == "submit" and a.get("name"):
            self._form["buttons"].append((a["name"], a.get("value", "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], "", True, "textarea"]
            self._form["fields"].append(self._textarea)
        elif tag == "select" and a.get("name"):
            self._select = [a["name"], None, True, "select"]
            self._form["fields"].append(self._select)
            self._first_option = None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self._select[1] = value

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            # Browsers drop one newline right after <textarea>.
            self._textarea[1] = self._textarea[1].removeprefix("\n")
            self._textarea = None
        elif tag == "select" and self._select is not None:
            if self._select[1] is None:
                self._select[1] = self._first_option or ""
            self._select = None
        elif tag == "form":
            self._form = None


def read_page(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    reader.close()
    return reader


@dataclass
class Stats:
    """Latencies and outcomes of every request, shared by the coder threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    attempted: list[str] = field(default_factory=list)

    def record(self, kind: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[(kind, status)] += 1

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


class Coder:
    """One simulated coder: a browser-like HTTP session that signs in and saves until the deadline."""

    def __init__(self, base: str, email: str, number: int, run: str, stats: Stats, deadline: float):
        self.base, self.email, self.number, self.run = base, email, number, run
        self.stats, self.deadline = stats, deadline
        self.http = requests.Session()
        self.saves = 0
        self._options: dict[str, list[str]] = {}

    def request(self, kind: str, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, urljoin(self.base, path), timeout=REQUEST_TIMEOUT, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.stats.record(kind, time.perf_counter() - started, "connection error")
            self.stats.fail(f"{self.email} {kind} {method} {path}: {type(exc).__name__}: {exc}")
            return None
        self.stats.record(kind, time.perf_counter() - started, response.status_code)
        return response

    def expect(self, response: requests.Response | None, statuses: tuple[int, ...], what: str) -> bool:
        if response is None:
            return False
        if response.status_code not in statuses:
            self.stats.fail(f"{self.email} {what}: HTTP {response.status_code} (expected {statuses})")
            return False
        return True

    def sign_in(self) -> str | None:
        """Sign in through the form; return the dashboard's first assignment link."""
        page = self.request("login_page", "GET", "/login")
        if not self.expect(page, (200,), "login page"):
            return None
        form = next(f for f in read_page(page.text).forms if any(name == "password" for name, *_ in f["fields"]))
        data = {name: value for name, value, on, _kind in form["fields"] if on}
        data.update(email=self.email, password=PASSWORD)
        response = self.request("login", "POST", "/login", data=data)
        if not self.expect(response, (302, 303), "sign in"):
            return None
        dashboard = self.request("dashboard", "GET", response.headers["Location"])
        if not self.expect(dashboard, (200,), "dashboard"):
            return None
        links = [link for link in read_page(dashboard.text).links if re.fullmatch(r"/coder/assignments/\d+", link)]
        if not links:
            self.stats.fail(f"{self.email}: no assignment on the dashboard")
            return None
        return links[0]

    def fill(self, form: dict, marker: str, turn: int) -> dict[str, list[str]]:
        """Serialise the coding form like a browser, changing the page's answers and adding one citation."""
        fields = form["fields"]
        indicators = sorted(
            {m.group(1) for name, *_ in fields if (m := re.fullmatch(r"(.+)-version", name))},
            key=lambda i: [f[0] for f in fields].index(f"{i}-version"),
        )
        answers = [value for name, value, *_ in fields if name == f"{indicators[0]}-value"]
        cited = indicators[turn % len(indicators)]
        data: dict[str, list[str]] = defaultdict(list)
        for name, value, on, _kind in fields:
            indicator, _, part = name.rpartition("-")
            if indicator in indicators and part == "value":
                continue  # set below
            if indicator in indicators and part == "notes":
                value = f"Searched the statute book ({marker})."
            if indicator == cited and part == "source":
                value = next(v for v in self._options[name] if v.isdigit())
            elif indicator == cited and part == "pinpoint":
                value = f"Art. {turn + 1}"
            elif indicator == cited and part == "excerpt":
                value = marker
            if on:
                data[name].append(value)
        for n, indicator in enumerate(indicators):
            data[f"{indicator}-value"] = [answers[(turn + n) % len(answers)]]
        data["save"] = [form["category"]]
        return data

    def run_loop(self) -> None:
        """Sign in, then load the page and save through its form until the deadline, following redirects."""
        link = self.sign_in()
        if link is None:
            return
        categories: list[str] = []
        path, pending, moved = link, None, False
        for _request in range(4 * MAX_SAVES_PER_CODER):  # bounded; the deadline ends it long before
            page = self.request("page", "GET", path)
            if not self.expect(page, (200,), f"coding page {path}"):
                return
            if pending is not None and not SAVED_FLASH.search(page.text):
                # A 303 alone is not proof: a read-only or refused save redirects too, with another message.
                self.stats.fail(f"{self.email} save {pending}: redirected, but the page does not say it was saved")
                return
            pending = None
            reader = read_page(page.text)
            if not categories:
                categories = sorted({m.group(1) for href in reader.links if (m := re.search(r"[?&]category=([^&#]+)", href))})
                if not categories:
                    self.stats.fail(f"{self.email}: no category links on the coding page")
                    return
                path = f"{link}?category={categories[self.number % len(categories)]}"
                continue  # open one category, as a coder working through the codebook does
            # Every coder saves at least once (a slow sign-in must not leave the check with nothing to check).
            if (self.saves and time.monotonic() >= self.deadline) or self.saves >= MAX_SAVES_PER_CODER:
                return
            if self.saves % 4 == 0 and self.saves and not moved:  # every fourth save, go on to the next category
                path, moved = f"{link}?category={categories[(self.number + self.saves // 4) % len(categories)]}", True
                continue
            moved = False
            form = next((f for f in reader.forms if f["action"].endswith("/save")), None)
            if form is None:
                self.stats.fail(f"{self.email}: no save form on {path}")
                return
            self._options = self._source_options(page.text)
            form["category"] = next(value for name, value, *_ in form["fields"] if name == "category")
            marker = f"{self.run}-c{self.number:03d}-s{self.saves:05d}"
            data = self.fill(form, marker, self.saves)
            with self.stats.lock:
                self.stats.attempted.append(marker)
            response = self.request("save", "POST", form["action"], data=data)
            self.saves += 1
            if not self.expect(response, (302, 303), f"save {marker}"):
                return
            with self.stats.lock:
                self.stats.acknowledged.append(marker)
            path, pending = response.headers["Location"].split("#")[0], marker  # follow the redirect like a browser

    def _source_options(self, html: str) -> dict[str, list[str]]:
        """Return each select's option values (the citation row's legal sources)."""
        options: dict[str, list[str]] = {}
        for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, flags=re.S):
            options[name] = re.findall(r'<option value="([^"]*)"', body)
        return options

    def __call__(self) -> None:
        try:
            self.run_loop()
        except Exception as exc:  # a bug in the driver must show as a failure, never kill the thread silently
            self.stats.fail(f"{self.email}: driver error {type(exc).__name__}: {exc}")
        finally:
            self.http.close()


@dataclass
class LoadReport:
    """What a load run measured and whether every invariant held."""

    coders: int
    duration: float
    requests: int
    saves: int
    acknowledged: int
    missing: list[str]
    duplicated: list[str]
    unacknowledged_stored: list[str]
    failures: list[str]
    statuses: dict
    latencies: dict[str, list[float]]
    server_cpu: float | None = None  # CPU seconds gunicorn used during the run (to read latencies on a busy machine)

    @property
    def server_errors(self) -> int:
        return sum(n for (_kind, status), n in self.statuses.items() if isinstance(status, int) and status >= 500)

    @property
    def connection_errors(self) -> int:
        return sum(n for (_kind, status), n in self.statuses.items() if status == "connection error")

    @property
    def conflicts(self) -> int:
        return sum(n for (_kind, status), n in self.statuses.items() if status == 409)

    @property
    def ok(self) -> bool:
        return (
            not (
                self.missing
                or self.duplicated
                or self.failures
                or self.server_errors
                or self.connection_errors
                or self.conflicts
                or self.unacknowledged_stored
            )
            and self.acknowledged > 0
        )

    def lines(self) -> list[str]:
        """One line per figure."""
        out = [
            f"coders: {self.coders}",
            f"duration: {self.duration:.1f} s",
            f"requests: {self.requests}",
            f"saves acknowledged: {self.acknowledged} of {self.saves} attempted",
            f"throughput saves/s: {self.acknowledged / self.duration:.1f}",
            f"throughput requests/s: {self.requests / self.duration:.1f}",
        ]
        if self.server_cpu is not None and self.requests:
            per_request = self.server_cpu * 1000 / self.requests
            out.append(
                f"server CPU: {self.server_cpu:.1f} s ({self.server_cpu / self.duration:.2f} cores, {per_request:.0f} ms per request; "
                f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})"
            )
        for kind in REQUEST_TYPES:
            values = sorted(self.latencies.get(kind, []))
            if not values:
                continue
            for label, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
                out.append(f"latency {kind} {label}: {percentile(values, q) * 1000:.1f} ms (n={len(values)})")
        out += [
            f"HTTP 5xx: {self.server_errors}",
            f"connection errors: {self.connection_errors}",
            f"HTTP 409 conflicts: {self.conflicts}",
            f"other failures: {len(self.failures)}",
            f"acknowledged saves missing in the database: {len(self.missing)}",
            f"acknowledged saves stored more than once: {len(self.duplicated)}",
            f"unacknowledged saves found stored: {len(self.unacknowledged_stored)}",
            f"invariants: {'PASS' if self.ok else 'FAIL'}",
        ]
        out += [f"  failure: {message}" for message in self.failures[:20]]
        return out


def percentile(sorted_values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank) of sorted values."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[round(q * 100) - 1] if q < 1 else sorted_values[-1]


def check_database(url: str, run: str, acknowledged: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Return (missing, duplicated, stored but never acknowledged) markers, counted in citation excerpts."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            excerpts = (
                connection.execute(sa.text("SELECT excerpt FROM citations WHERE excerpt LIKE :prefix"), {"prefix": f"{run}-%"})
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    stored = Counter(excerpts)
    acked = set(acknowledged)
    missing = [m for m in acknowledged if stored[m] == 0]
    duplicated = [m for m, n in stored.items() if n > 1]
    unacknowledged = [m for m in stored if m not in acked]
    return missing, duplicated, unacknowledged


def run_load(
    url: str, *, coders: int = 24, countries: int = 12, duration: float = 30.0, workers: int = 2, threads: int = 4, progress=print
) -> LoadReport:
    """Prepare the database, serve it with gunicorn, drive the coders for `duration` seconds and check."""
    if coders < 1 or duration <= 0:
        raise SystemExit("Need at least one coder and a positive duration.")
    progress(f"preparing {sa.engine.make_url(url).render_as_string(hide_password=True)}: {coders} coders, {countries} countries")
    reset_database(url)
    people = load_fixtures(url, coders=coders, countries=countries)
    run = f"load{secrets.token_hex(4)}"
    stats = Stats()
    with (
        tempfile.TemporaryDirectory(prefix="rightsdb-load-") as exports_dir,
        Server(url, workers=workers, threads=threads, exports_dir=exports_dir) as server,
    ):
        progress(f"gunicorn on {server.base} ({workers} workers x {threads} threads); driving {coders} coders for {duration:g} s")
        cpu_before = server.cpu_seconds()
        started = time.monotonic()
        deadline = started + duration
        pool = [
            threading.Thread(target=Coder(server.base, p["email"], n, run, stats, deadline), name=f"coder-{n}")
            for n, p in enumerate(people)
        ]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=duration + 2 * REQUEST_TIMEOUT + 30)
        elapsed = time.monotonic() - started
        cpu_after = server.cpu_seconds()
        if any(thread.is_alive() for thread in pool):
            stats.fail("a coder thread did not finish in time")
        server_log = server.output()
    tracebacks = server_log.count("Traceback (most recent call last)")
    if tracebacks:
        stats.fail(f"the server logged {tracebacks} traceback(s)")
    missing, duplicated, unacknowledged = check_database(url, run, stats.acknowledged)
    report = LoadReport(
        coders=coders,
        duration=elapsed,
        requests=sum(len(v) for v in stats.latencies.values()),
        saves=len(stats.attempted),
        acknowledged=len(stats.acknowledged),
        missing=missing,
        duplicated=duplicated,
        unacknowledged_stored=unacknowledged,
        failures=list(stats.failures),
        statuses=dict(stats.statuses),
        latencies={k: list(v) for k, v in stats.latencies.items()},
        server_cpu=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )
    if not report.ok and server_log:
        progress("gunicorn output (end):\n" + server_log[-5000:])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    parser.add_argument("--coders", type=int, default=24, help="concurrent coders (default 24)")
    parser.add_argument("--countries", type=int, default=12, help="fictional countries (default 12)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    args = parser.parse_args(argv)
    report = run_load(
        args.database_url, coders=args.coders, countries=args.countries, duration=args.duration, workers=args.workers, threads=args.threads
    )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
