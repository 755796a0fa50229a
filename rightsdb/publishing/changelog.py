"""What changed since the previous release of the same kind: cell by cell (changes.csv), in brief (Release.changelog) and for the README.

Everything here is computed from two releases' snapshots (their rows as `collect_final` or
`snapshot_rows` give them) and the supervisors' EvidenceCorrection rows, which are never changed: a
release's changes are rebuilt byte for byte by `release verify`, whatever happened to the coding
tables since. A change is one row of CHANGE_COLUMNS:

- release-level (no country): codebook_version, scoring_scheme;
- per country-round: country_round_added / country_round_removed, one row per indicator of it;
- per cell (country-round x indicator, in both releases): indicator_added / indicator_removed (in a
  country-round present in both), value, groups, notes (either coder's), and one row per citation
  that changed. The two lists of a cell's citations are compared as they were published: identical
  citations cancel out; the rest, in position order, are paired as citation_changed (old and new
  giving the fields that differ); what is left over was added or removed.

`reason` is, for a value or groups change, the reason the decision carries in this release (a
correction's reason when the final value was corrected); for a citation change, the reasons of the
supervisors' corrections of that decision's evidence recorded since the previous release.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlmodel import Session, select

from rightsdb.models import EvidenceCorrection, Release
from rightsdb.publishing.collect import CITATION_FIELDS

#: The columns of changes.csv, with their descriptions (also the data package's).
CHANGE_COLUMNS = {
    "country_iso3": "ISO 3166-1 alpha-3 code of the country (empty for a change of the whole release)",
    "round": "Coding round (empty for a change of the whole release)",
    "indicator": "Indicator id (empty for a change of the whole release)",
    "change": "Kind of change: codebook_version, scoring_scheme, country_round_added, country_round_removed, indicator_added,"
    " indicator_removed, value, groups, notes, citation_added, citation_removed, citation_changed",
    "old": "The previous release's value, groups, notes or citation ('title, pinpoint'; for a changed citation the fields that differ)",
    "new": "This release's, in the same form",
    "reason": "The supervisor's reason: of a corrected value, or of each correction of the evidence (sources, citations)",
}

#: The kinds of change, in the order they are listed within a cell (release-level first).
CHANGE_KINDS = (
    "codebook_version",
    "scoring_scheme",
    "country_round_added",
    "country_round_removed",
    "indicator_added",
    "indicator_removed",
    "value",
    "groups",
    "notes",
    "citation_added",
    "citation_removed",
    "citation_changed",
)
CITATION_KINDS = ("citation_added", "citation_removed", "citation_changed")

_FIELDS = CITATION_FIELDS
_TITLE, _PINPOINT = _FIELDS.index("title"), _FIELDS.index("pinpoint")

#: How many changes the README lists one by one (data/changes.csv has them all).
README_LINES = 100


def previous_release(*, session: Session, release: Release) -> Release | None:
    """Return the release of the same kind published last before `release` (None for the first)."""
    before = sa.or_(
        Release.published_at < release.published_at,
        sa.and_(Release.published_at == release.published_at, Release.id < release.id),  # type: ignore[operator]
    )
    return session.exec(
        select(Release)
        .where(Release.synthetic == release.synthetic, Release.id != release.id, before)
        .order_by(Release.published_at.desc(), Release.id.desc())  # type: ignore[attr-defined]
    ).first()


def correction_reasons(*, session: Session, previous: Release, release: Release) -> dict[int, list[str]]:
    """Return, by decision id, the reasons of the evidence corrections recorded after `previous` and up to `release` (in order)."""
    rows = session.exec(
        select(EvidenceCorrection.decision_id, EvidenceCorrection.reason)
        .where(EvidenceCorrection.at > previous.published_at, EvidenceCorrection.at <= release.published_at)
        .order_by(EvidenceCorrection.at, EvidenceCorrection.id)
    ).all()
    reasons: dict[int, list[str]] = defaultdict(list)
    for decision_id, reason in rows:
        if reason and reason not in reasons[decision_id]:
            reasons[decision_id].append(reason)
    return dict(reasons)


def citation_summary(citation: Sequence[str]) -> str:
    """Return a citation as the long table's summary does: "title, pinpoint"."""
    return ", ".join(part for part in (citation[_TITLE], citation[_PINPOINT]) if part)


def _differing(old: Sequence[str], new: Sequence[str]) -> tuple[str, str]:
    """Return (old, new) of a changed citation: its summary, then each field that differs ("field: value")."""

    def side(citation, other):
        fields = "; ".join(f"{name}: {value}" for name, value, theirs in zip(_FIELDS, citation, other) if value != theirs)
        return f"{citation_summary(citation)} ({fields})"

    return side(old, new), side(new, old)


def _citation_changes(old: list[tuple], new: list[tuple]) -> list[tuple[str, int, str, str]]:
    """Return (kind, position, old, new) for each citation that differs between two lists (positions from 1)."""
    unmatched = Counter(new)
    kept_old = []
    for n, citation in enumerate(old):
        if unmatched[citation]:
            unmatched[citation] -= 1
        else:
            kept_old.append((n + 1, citation))
    remaining = Counter(old)
    kept_new = []
    for n, citation in enumerate(new):
        if remaining[citation]:
            remaining[citation] -= 1
        else:
            kept_new.append((n + 1, citation))
    changes = []
    for (_, before), (position, after) in zip(kept_old, kept_new):
        changes.append(("citation_changed", position, *_differing(before, after)))
    paired = min(len(kept_old), len(kept_new))
    changes += [("citation_removed", position, citation_summary(c), "") for position, c in kept_old[paired:]]
    changes += [("citation_added", position, "", citation_summary(c)) for position, c in kept_new[paired:]]
    return changes


def _notes(row: dict) -> tuple[str, str]:
    return row.get("coder_a_notes") or "", row.get("coder_b_notes") or ""


def compute_changes(
    *,
    previous: Release | None,
    previous_rows: list[dict] | None,
    release: Release,
    rows: list[dict],
    reasons: dict[int, list[str]],
    indicator_order: Sequence[str],
) -> list[tuple[str, str, str, str, str, str, str]]:
    """Return the rows of changes.csv (CHANGE_COLUMNS), sorted: the first release has none.

    `rows` and `previous_rows` are snapshot rows (SNAPSHOT_COLUMNS plus "citations"); `reasons` are the
    evidence corrections' reasons by decision id (`correction_reasons`).
    """
    if previous is None or previous_rows is None:
        return []
    out: list[tuple] = []
    if previous.codebook_version != release.codebook_version:
        out.append(("", "", "", "codebook_version", previous.codebook_version, release.codebook_version, "", 0))
    if previous.scheme != release.scheme:
        out.append(("", "", "", "scoring_scheme", previous.scheme, release.scheme, "", 0))

    def keyed(snapshot: Iterable[dict]) -> dict[tuple, dict]:
        return {(r["country_iso3"], r["round_name"], r["indicator_id"]): r for r in snapshot}

    old, new = keyed(previous_rows), keyed(rows)
    old_rounds, new_rounds = {k[:2] for k in old}, {k[:2] for k in new}
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if after is None:
            kind = "country_round_removed" if key[:2] not in new_rounds else "indicator_removed"
            out.append((*key, kind, before["answer"], "", "", 0))  # type: ignore[index]
            continue
        if before is None:
            kind = "country_round_added" if key[:2] not in old_rounds else "indicator_added"
            out.append((*key, kind, "", after["answer"], "", 0))
            continue
        decided = after["reason"] or ""
        if before["answer"] != after["answer"]:
            out.append((*key, "value", before["answer"], after["answer"], decided, 0))
        if list(before["groups"]) != list(after["groups"]):
            out.append((*key, "groups", ";".join(before["groups"]), ";".join(after["groups"]), decided, 0))
        if _notes(before) != _notes(after):
            pairs = [(slot, o, n) for slot, o, n in zip("AB", _notes(before), _notes(after)) if o != n]
            out.append((*key, "notes", " | ".join(f"{s}: {o}" for s, o, _ in pairs), " | ".join(f"{s}: {n}" for s, _, n in pairs), "", 0))
        if before["citations"] != after["citations"]:
            why = "; ".join(reasons.get(after["decision_id"], []))
            out += [
                (*key, kind, o, n, why, position) for kind, position, o, n in _citation_changes(before["citations"], after["citations"])
            ]
    order = {ident: n for n, ident in enumerate(indicator_order)}
    kinds = {kind: n for n, kind in enumerate(CHANGE_KINDS)}
    out.sort(key=lambda r: (r[0], r[1], r[2] != "", order.get(r[2], len(order)), r[2], kinds[r[3]], r[7], r[4], r[5]))
    return [row[:7] for row in out]


def _cell(row: Sequence[str]) -> str:
    return " ".join(part for part in row[:3] if part)


def _flat(text: str) -> str:
    """One line of text for the brief changelog and the README's list (line breaks as spaces)."""
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def describe_changes(changes: list[tuple], *, previous_version: str | None) -> str:
    """Write the brief changelog (Release.changelog, shown on the site): every kind of change that happened, counted.

    Values (and their groups) are listed one by one as before; every other kind is counted, so that no
    change of evidence hides behind "Values changed".
    """
    if previous_version is None:
        return "First release."
    by_kind: dict[str, list[tuple]] = defaultdict(list)
    for row in changes:
        by_kind[row[3]].append(row)
    lines = [f"Changes since {previous_version}:"]
    for kind, label in (("codebook_version", "Codebook version"), ("scoring_scheme", "Scoring scheme")):
        lines += [f"- {label}: {row[4]} -> {row[5]}" for row in by_kind[kind]]
    for kind, label in (("country_round_added", "Country-rounds added"), ("country_round_removed", "Country-rounds removed")):
        rounds = list(dict.fromkeys(f"{row[0]} {row[1]}" for row in by_kind[kind]))
        lines.append(f"- {label}: " + (", ".join(rounds) if rounds else "none"))
    values = [row for row in changes if row[3] in ("value", "groups")]
    lines.append(f"- Values changed: {len({row[:3] for row in values}) or 'none'}")
    for row in values:
        label = "" if row[3] == "value" else " groups"
        lines.append(f"  - {_cell(row)}{label}: {row[4] or '(none)'} -> {row[5] or '(none)'}")
    for kind, label in (("indicator_added", "Indicators added"), ("indicator_removed", "Indicators removed")):
        if by_kind[kind]:
            lines.append(f"- {label}: {len(by_kind[kind])}")
    if by_kind["notes"]:
        lines.append(f"- Coders' notes changed: {len(by_kind['notes'])} values")
    cited = [row for kind in CITATION_KINDS for row in by_kind[kind]]
    if cited:
        counts = ", ".join(f"{len(by_kind[k])} {k.split('_')[1]}" for k in CITATION_KINDS if by_kind[k])
        lines.append(f"- Citations changed: {counts} (in {len({row[:3] for row in cited})} values)")
    corrected = {row[:3] for row in cited if row[6]}
    if corrected:
        lines.append(f"- Evidence corrected by a supervisor, with a reason: {len(corrected)} values")
    return "\n".join(lines)


#: How each kind of change is named in the README.
KIND_LABELS = {
    "codebook_version": "codebook version",
    "scoring_scheme": "scoring scheme",
    "country_round_added": "country-round added",
    "country_round_removed": "country-round removed",
    "indicator_added": "indicator added",
    "indicator_removed": "indicator removed",
    "value": "value",
    "groups": "groups",
    "notes": "coders' notes",
    "citation_added": "citation added",
    "citation_removed": "citation removed",
    "citation_changed": "citation changed",
}


def _readme_line(row: Sequence[str]) -> str:
    kind, old, new = row[3], _flat(row[4]), _flat(row[5])
    if kind == "citation_added":
        return f"- {_cell(row)}: citation added: {new}"
    if kind == "citation_removed":
        return f"- {_cell(row)}: citation removed: {old}"
    if kind in ("indicator_added", "indicator_removed"):
        return f"- {_cell(row)}: {KIND_LABELS[kind]} ({old or new})"
    label = "" if kind == "value" else f" ({KIND_LABELS[kind]})"
    return f"- {_cell(row)}: {old or '(none)'} -> {new or '(none)'}{label}"


def changes_section(changes: list[tuple], *, previous_version: str | None, limit: int = README_LINES) -> list[str]:
    """Write the README's "What changed" section: counts by kind, the release-level changes, the changed cells, the corrections."""
    lines = ["## What changed", ""]
    if previous_version is None:
        return [*lines, "First release: nothing to compare with. data/changes.csv lists the changes of later releases.", ""]
    if not changes:
        return [*lines, f"Nothing changed since release {previous_version}.", ""]
    counts = Counter(row[3] for row in changes)
    cells = {row[:3] for row in changes if row[2]}
    lines += [
        f"Since release {previous_version}: {len(changes)} changes in {len(cells)} values (country-round and indicator),"
        " one row each in data/changes.csv (columns country_iso3, round, indicator, change, old, new, reason).",
        "",
        "| change | rows |",
        "|---|---|",
        *(f"| {kind} | {counts[kind]} |" for kind in CHANGE_KINDS if counts[kind]),
        "",
    ]
    whole = [row for row in changes if not row[0]]
    if whole:
        lines += ["Changes to the whole release:", "", *(f"- {KIND_LABELS[row[3]]}: {row[4]} -> {row[5]}" for row in whole), ""]
    listed: list[str] = []
    rounds = {
        kind: dict.fromkeys(row[:2] for row in changes if row[3] == kind) for kind in ("country_round_added", "country_round_removed")
    }
    for kind, keys in rounds.items():
        listed += [f"- {iso3} {name}: {KIND_LABELS[kind]}" for iso3, name in keys]
    listed += [_readme_line(row) for row in changes if row[0] and row[3] not in rounds]
    lines += ["Changes, value by value:", ""]
    lines += listed[:limit]
    if len(listed) > limit:
        lines.append(f"- ... the first {limit} of {len(listed)}: see data/changes.csv for all {len(changes)} rows.")
    lines.append("")
    reasons: dict[tuple, list[str]] = {}
    for row in changes:
        if row[6] and row[0]:
            kinds = reasons.setdefault((_cell(row), row[6]), [])
            if KIND_LABELS[row[3]] not in kinds:
                kinds.append(KIND_LABELS[row[3]])
    if reasons:
        lines += ["Corrections, with the supervisor's reason:", ""]
        shown = list(reasons.items())
        lines += [f"- {cell} ({', '.join(kinds)}): {_flat(reason)}" for (cell, reason), kinds in shown[:limit]]
        if len(shown) > limit:
            lines.append(f"- ... the first {limit} of {len(shown)}: see the reason column of data/changes.csv.")
        lines.append("")
    return lines
