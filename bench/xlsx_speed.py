"""Benchmark the Excel workbook writer (rightsdb.publishing.formats.xlsx.write_xlsx) on world-scale synthetic tables.

    python bench/xlsx_speed.py [--repeat 3] [--scale 1.0] [--keep PATH]

Builds seven tables shaped like a world-scale release (a "citations" table of ~196,000 rows with
~200-character excerpts in several scripts and repeated short codes, a "long" table of 52,000 rows
with integers, floats and missing values, and smaller ones), writes them with
`write_xlsx(path, xlsx_sheets(frames))` and prints:

- the XML the workbook holds (uncompressed size of every part) and of its worksheets and shared strings,
- the wall time of write_xlsx (best of --repeat runs: the machine is shared),
- the wall time of making the XML alone (the same, with the zip entries stored instead of deflated),
- the file size and the peak growth of pyarrow's memory during one write.

Everything is synthetic demonstration data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rightsdb.publishing.formats import xlsx as exports  # noqa: E402

MIB = 1024 * 1024
WORDS = {
    "en": "the right of every migrant worker to equal treatment in respect of remuneration and conditions of work".split(),
    "ru": "право каждого трудящегося мигранта на равное обращение в отношении вознаграждения и условий труда".split(),
    "ar": "حق كل عامل مهاجر في المساواة في المعاملة فيما يتعلق بالأجر وظروف العمل والحماية".split(),
    "zh": "每个 移民 工人 在 报酬 和 工作 条件 方面 享有 平等 待遇 的 权利 以及 社会 保障".split(),
    "fr": "le droit de tout travailleur migrant à l'égalité de traitement en matière de rémunération & d'emploi".split(),
    "es": "el derecho de todo trabajador migrante a la igualdad de trato en materia de remuneración <y> empleo".split(),
}
LANGUAGES = list(WORDS)


def sentences(rng: np.random.Generator, count: int, length: int, languages: np.ndarray) -> list[str]:
    """Return `count` distinct-ish texts of about `length` characters, each in its row's language."""
    out = []
    for n in range(count):
        words = WORDS[languages[n]]
        picks = rng.integers(0, len(words), size=length // 5)
        text = " ".join(words[i] for i in picks)[:length]
        out.append(f"{text} §{n}")
    return out


def world_frames(scale: float = 1.0, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Return seven tables shaped like a world-scale release's."""
    rng = np.random.default_rng(seed)
    iso3 = [f"X{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(200)]
    rounds = ["2023", "2024", "2025", "2026"]
    indicators = [f"{c}-{n:02d}" for c in ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF") for n in range(1, 26)]
    answers = ["provided", "conditional", "not_applicable", "not_provided"]

    n_long = int(52_000 * scale)
    long_lang = np.array(LANGUAGES)[rng.integers(0, len(LANGUAGES), n_long)]
    reasons = sentences(rng, n_long, 60, long_lang)
    long = pd.DataFrame(
        {
            "iso3": np.array(iso3)[rng.integers(0, 200, n_long)],
            "country": [f"Synthetic Country {c}" for c in np.array(iso3)[rng.integers(0, 200, n_long)]],
            "round": np.array(rounds)[rng.integers(0, 4, n_long)],
            "reference_date": np.array(["2023-01-01", "2024-01-01", "2025-01-01", "2026-01-01"])[rng.integers(0, 4, n_long)],
            "category": np.array(["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"])[rng.integers(0, 6, n_long)],
            "indicator": np.array(indicators)[rng.integers(0, len(indicators), n_long)],
            "answer": np.array(answers)[rng.integers(0, 4, n_long)],
            "binary": pd.array([None if v == 2 else v for v in rng.integers(0, 3, n_long)], dtype="Int64"),
            "score": pd.array([None if v < 0.1 else round(float(v), 6) for v in rng.random(n_long)], dtype="Float64"),
            "groups": np.array(["", "irregular_migrants", "irregular_migrants;permanent_residents", "refugees"])[
                rng.integers(0, 4, n_long)
            ],
            "coder_a_answer": np.array(answers)[rng.integers(0, 4, n_long)],
            "coder_b_answer": np.array(answers)[rng.integers(0, 4, n_long)],
            "outcome": np.array(["agreed", "reconciled"])[rng.integers(0, 2, n_long)],
            "reason": [r if i % 5 == 0 else "" for i, r in enumerate(reasons)],
            "citations": [f"Law {i % 900} of the State, Art. {i % 40}" for i in range(n_long)],
        }
    )

    n_cit = int(196_000 * scale)
    lang = np.array(LANGUAGES)[rng.integers(0, len(LANGUAGES), n_cit)]
    titles = [f"Law {n} on Foreigners" if n % 3 else f"Закон об иностранцах № {n}" for n in range(1500)]
    title_pick = rng.integers(0, len(titles), n_cit)
    translations = sentences(rng, n_cit, 200, np.array(["en"] * n_cit))
    citations = pd.DataFrame(
        {
            "iso3": np.array(iso3)[rng.integers(0, 200, n_cit)],
            "round": np.array(rounds)[rng.integers(0, 4, n_cit)],
            "indicator": np.array(indicators)[rng.integers(0, len(indicators), n_cit)],
            "position": rng.integers(1, 4, n_cit),
            "instrument_type": np.array(["statute", "constitution", "regulation", "decree", "case_law"])[rng.integers(0, 5, n_cit)],
            "title": np.array(titles)[title_pick],
            "pinpoint": [f"Art. {n}" for n in rng.integers(1, 300, n_cit)],
            "url": [f"https://example.org/laws/{n}" for n in title_pick],
            "date_in_force": np.array(["", "2001-05-01", "2010-07-15", "2019-01-01"])[rng.integers(0, 4, n_cit)],
            "language": lang,
            "excerpt": sentences(rng, n_cit, 200, lang),
            "translation": [t if v != "en" else "" for t, v in zip(translations, lang)],
        }
    )

    n_matrix = int(800 * scale) or 1
    matrix = pd.DataFrame(
        {
            "iso3": np.array(iso3)[np.arange(n_matrix) % 200],
            "country": [f"Synthetic Country {i}" for i in range(n_matrix)],
            "round": np.array(rounds)[np.arange(n_matrix) % 4],
            "reference_date": "2026-01-01",
            **{ident: np.array(answers)[rng.integers(0, 4, n_matrix)] for ident in indicators},
        }
    )
    scores = pd.DataFrame(
        {
            "iso3": matrix["iso3"],
            "country": matrix["country"],
            "round": matrix["round"],
            "reference_date": matrix["reference_date"],
            **{
                c: pd.array([None if v < 0.05 else round(float(v), 6) for v in rng.random(n_matrix)], dtype="Float64")
                for c in ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "category_mean", "pooled")
            },
        }
    )
    codebook = pd.DataFrame(
        {
            "indicator": indicators,
            "position": range(1, len(indicators) + 1),
            "category": [i[:3] for i in indicators],
            "category_name": [f"Category {i[:3]}" for i in indicators],
            "imbr_article": [n % 30 for n in range(len(indicators))],
            "provenance": "proposed",
            "short_label": [f"Label {i}" for i in indicators],
            "question": [f"Is the right {i} provided to migrants & their families?" for i in indicators],
        }
    )
    countries = pd.DataFrame(
        {
            "iso3": iso3,
            "iso2": [c[1:] for c in iso3],
            "numeric": range(901, 1101),
            "name": [f"Synthetic Country {c}" for c in iso3],
            "region": "Europe",
            "synthetic": True,
        }
    )
    reliability = pd.DataFrame(
        {
            "level": "indicator",
            "round": np.array(rounds)[np.arange(600) % 4],
            "key": np.array(indicators)[np.arange(600) % 150],
            "n": rng.integers(10, 200, 600),
            **{c: rng.random(600) for c in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "prevalence")},
            "prevalent_value": np.array(answers)[rng.integers(0, 4, 600)],
            "notes": "",
        }
    )
    return {
        "long": long,
        "matrix": matrix,
        "scores": scores,
        "codebook": codebook,
        "countries": countries,
        "reliability": reliability,
        "citations": citations,
    }


def peak_arrow_bytes(action) -> int:
    """Run `action` and return the peak growth of the bytes pyarrow had allocated meanwhile (sampled every ms)."""
    base = pa.total_allocated_bytes()
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, pa.total_allocated_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        action()
    finally:
        done.set()
        sampler.join()
    return peak - base


def best_of(repeat: int, action) -> float:
    """Return the best wall time of `repeat` runs of `action`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", type=Path, help="also keep the workbook at this path")
    args = parser.parse_args(argv)

    frames = world_frames(args.scale)
    sheets = exports.xlsx_sheets(frames)
    cells = sum(f.size for f in frames.values())
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "release.xlsx"
        peak = peak_arrow_bytes(lambda: exports.write_xlsx(path, sheets))
        with zipfile.ZipFile(path) as archive:
            parts = {i.filename: i.file_size for i in archive.infolist()}
        xml = sum(parts.values())
        worksheets = sum(size for name, size in parts.items() if name.startswith("xl/worksheets/"))
        shared = parts.get("xl/sharedStrings.xml", 0)
        size = path.stat().st_size
        seconds = best_of(args.repeat, lambda: exports.write_xlsx(path, sheets))
        # The XML alone: the same writer with its zip entries stored (CRC only), not deflated.
        stored_zip = types.SimpleNamespace(
            ZIP_DEFLATED=zipfile.ZIP_DEFLATED,
            ZipFile=lambda *a, **k: zipfile.ZipFile(*a, **{**k, "compression": zipfile.ZIP_STORED, "compresslevel": None}),
        )
        exports.zipfile = stored_zip
        try:
            stored = best_of(args.repeat, lambda: exports.write_xlsx(Path(folder) / "stored.xlsx", sheets))
        finally:
            exports.zipfile = zipfile

    print(f"tables: {len(frames)}, cells: {cells:,} (citations {len(frames['citations']):,} rows, long {len(frames['long']):,} rows)")
    print(f"XML in the workbook: {xml / MIB:.1f} MiB (worksheets {worksheets / MIB:.1f} MiB, shared strings {shared / MIB:.2f} MiB)")
    print(f"write_xlsx wall time (best of {args.repeat}): {seconds:.2f} s")
    print(f"XML alone, stored not deflated (best of {args.repeat}): {stored:.2f} s")
    print(f"workbook file: {size / MIB:.1f} MiB")
    print(f"pyarrow memory during one write (peak growth): {peak / MIB:.0f} MiB")


if __name__ == "__main__":
    main()
