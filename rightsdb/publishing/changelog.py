"""The changelog of a release: what changed since the previous release of the same kind."""

from __future__ import annotations


def describe_changes(previous: list[dict] | None, current: list[dict], *, previous_version: str | None) -> str:
    """Write the changelog: country-rounds added or removed and values changed since the previous release."""
    if previous is None:
        return "First release."

    def keyed(rows):
        return {(r["country_iso3"], r["round_name"], r["indicator_id"]): r for r in rows}

    old, new = keyed(previous), keyed(current)
    old_crs = {(k[0], k[1]) for k in old}
    new_crs = {(k[0], k[1]) for k in new}
    added = sorted(new_crs - old_crs)
    removed = sorted(old_crs - new_crs)
    changed = [
        f"  - {k[0]} {k[1]} {k[2]}: {old[k]['answer']}{_groups(old[k])} -> {new[k]['answer']}{_groups(new[k])}"
        for k in sorted(set(old) & set(new))
        if (old[k]["answer"], list(old[k]["groups"])) != (new[k]["answer"], list(new[k]["groups"]))
    ]
    lines = [f"Changes since {previous_version}:"]
    lines.append("- Country-rounds added: " + (", ".join(f"{i} {r}" for i, r in added) if added else "none"))
    lines.append("- Country-rounds removed: " + (", ".join(f"{i} {r}" for i, r in removed) if removed else "none"))
    lines.append(f"- Values changed: {len(changed) or 'none'}")
    lines.extend(changed)
    return "\n".join(lines)


def _groups(row: dict) -> str:
    return f" ({';'.join(row['groups'])})" if row["groups"] else ""
