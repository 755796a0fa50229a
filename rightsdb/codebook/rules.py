"""The answer scale's meaning and the citation limits: the only place in Python that names an answer code.

Methodology (the Migrant Rights Database's, as this project applies it):

- Every value must trace to law, so `provided` and `conditional` stand on at least one citation.
- `conditional` is "provided, but only for some migrants": it names the migrant groups it reaches,
  and it is the only answer that names groups.
- `not_provided` shows the search that found nothing: a citation or a note.
- `not_applicable` says in the notes why the question cannot apply; it leaves the denominator.
- The binary MRD value counts `provided` and `conditional` as 1 and `not_provided` as 0.

Coding (saving and submitting), reconciliation (a supervisor's own answer) and import all check
answers with `answer_problems`, so the three can never disagree about what a complete answer is.
Templates and JavaScript get the codes from the codebook (`Codebook.grouped_answer`), not from here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: The closed answer scale, in the order the codebook must list it (strongest protection first).
ANSWER_CODES = ("provided", "conditional", "not_provided", "not_applicable")
PROVIDED, CONDITIONAL, NOT_PROVIDED, NOT_APPLICABLE = ANSWER_CODES

#: Answers that claim a protection exists: they must stand on at least one citation.
CITED_ANSWERS = frozenset({PROVIDED, CONDITIONAL})
#: The answer that names the migrant groups it reaches (and the only one that may).
GROUPED_ANSWER = CONDITIONAL
#: The binary MRD value of each answer (None: no value).
BINARY_VALUES = {PROVIDED: 1, CONDITIONAL: 1, NOT_PROVIDED: 0, NOT_APPLICABLE: None}

#: The longest text each citation field may hold (the columns of models.py).
CITATION_LIMITS = {"title": 500, "url": 2000, "pinpoint": 300, "language": 20}


def needs_citation(value: str | None) -> bool:
    """Tell whether an answer must stand on at least one citation."""
    return value in CITED_ANSWERS


def takes_groups(value: str | None) -> bool:
    """Tell whether an answer names migrant groups."""
    return value == GROUPED_ANSWER


def binary_value(value: str | None) -> int | None:
    """Return the binary MRD value of an answer: provided and conditional 1, not provided 0, else None."""
    return BINARY_VALUES.get(value) if value else None


def answer_problems(*, value: str | None, groups, cited: bool, has_notes: bool) -> list[tuple[str, str]]:
    """Return (what, message) for each rule a complete answer breaks; `what` is value, citations, groups or notes.

    Callers name the field at fault in their own terms (a form field, an import column).
    """
    if value not in ANSWER_CODES:
        return [("value", f"unknown answer {value!r}" if value else "not answered")]
    problems = []
    if needs_citation(value) and not cited:
        problems.append(("citations", "needs at least one citation"))
    if takes_groups(value) and not groups:
        problems.append(("groups", f"{value} answer needs at least one migrant group"))
    if not takes_groups(value) and groups:
        problems.append(("groups", f"migrant groups go only with a {GROUPED_ANSWER} answer, not with {value}"))
    if value == NOT_PROVIDED and not (cited or has_notes):
        problems.append(("notes", "needs a citation or a note saying what was searched"))
    if value == NOT_APPLICABLE and not has_notes:
        problems.append(("notes", "needs the reason it is not applicable in the notes"))
    return problems


def url_problem(url: str) -> str | None:
    """Return why `url` is not an acceptable web address (http or https), or None if it is fine ("" is fine)."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return "Enter a web address starting with http:// or https://."
    if len(url) > CITATION_LIMITS["url"]:
        return f"The web address is longer than {CITATION_LIMITS['url']} characters."
    return None


def length_problem(what: str, text: str) -> str | None:
    """Return why a citation field's text is too long (CITATION_LIMITS), or None."""
    limit = CITATION_LIMITS[what]
    if len(text) > limit:
        return f"The {what} is longer than {limit} characters."
    return None
