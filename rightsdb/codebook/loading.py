"""Load and validate the coding instrument (`indicators.yaml`).

Loading is strict: unknown keys, duplicate ids, dangling references and
incomplete scoring schemes are refused with a message naming the file, the line and the indicator or
key at fault. Nothing here knows how many categories or indicators there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from rightsdb.codebook.rules import ANSWER_CODES, NOT_APPLICABLE
from rightsdb.codebook.schema import Codebook


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a codebook file."""

    path: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        location = f"{self.path}:{self.line}" if self.line else self.path
        return f"{location}: {self.where}: {self.message}" if self.where else f"{location}: {self.message}"


class CodebookError(Exception):
    """The codebook file cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineMap:
    """Map a path of keys and list indexes inside the YAML document to a line number."""

    def __init__(self, root: yaml.Node | None):
        self.lines: dict[tuple, int] = {}
        self.duplicates: list[tuple[tuple, int]] = []
        self.recursive: list[int] = []
        self._walked: set[int] = set()
        self._open: set[int] = set()
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple) -> None:
        self.lines[path] = node.start_mark.line + 1
        # An alias reuses a node: walk each node once (no blow-up), and note an alias inside its own anchor.
        if id(node) in self._open:
            self.recursive.append(node.start_mark.line + 1)
        if id(node) in self._walked:
            return
        self._walked.add(id(node))
        self._open.add(id(node))
        self._walk_children(node, path)
        self._open.discard(id(node))

    def _walk_children(self, node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key in seen:
                    self.duplicates.append((path + (key,), key_node.start_mark.line + 1))
                seen.add(key)
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                self._walk(value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, path + (index,))

    def line(self, path: tuple) -> int | None:
        """Return the line of `path`, or of its closest ancestor present in the file."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def _describe(data: object, loc: tuple) -> str:
    """Name the indicator, category or key a location points at, e.g. `indicator LAB-03, key guidance`."""
    if len(loc) >= 2 and loc[0] in ("indicators", "categories") and isinstance(loc[1], int):
        kind = "indicator" if loc[0] == "indicators" else "category"
        try:
            ident = data[loc[0]][loc[1]].get("id")  # type: ignore[index]
        except (TypeError, KeyError, IndexError, AttributeError):
            ident = None
        label = f"{kind} {ident}" if ident else f"{kind} #{loc[1] + 1}"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{label}, key {rest}" if rest else label
    return "key " + ".".join(str(p) for p in loc) if loc else ""


def _semantic_problems(book: Codebook, add) -> None:
    """Check references between sections that field validation cannot see."""
    seen: dict[str, int] = {}
    for index, category in enumerate(book.categories):
        if category.id in seen:
            add(("categories", index, "id"), f"category {category.id}", "duplicate category id")
        seen[category.id] = index
    seen_ind: dict[str, int] = {}
    counts = {c.id: 0 for c in book.categories}
    instruments = {t.code for t in book.instrument_types}
    for index, indicator in enumerate(book.indicators):
        where = f"indicator {indicator.id}"
        if indicator.id in seen_ind:
            add(("indicators", index, "id"), where, "duplicate indicator id")
        seen_ind[indicator.id] = index
        category = book.categories_by_id.get(indicator.category)
        if category is None:
            add(("indicators", index, "category"), where, f"unknown category {indicator.category!r}")
        else:
            counts[category.id] += 1
            if indicator.imbr_article != category.imbr_article:
                add(
                    ("indicators", index, "imbr_article"),
                    where,
                    f"IMBR article {indicator.imbr_article} differs from its category's ({category.imbr_article})",
                )
        for position, source in enumerate(indicator.guidance.sources):
            if source not in instruments:
                add(("indicators", index, "guidance", "sources", position), where, f"unknown instrument type {source!r}")
    for index, category in enumerate(book.categories):
        if counts.get(category.id) == 0:
            add(("categories", index), f"category {category.id}", "category has no indicators")
    for kind, items in (("migrant group", book.migrant_groups), ("instrument type", book.instrument_types)):
        codes = [i.code for i in items]
        for code in sorted({c for c in codes if codes.count(c) > 1}):
            add((), "", f"duplicate {kind} code {code!r}")
    scheme_ids = [s.id for s in book.scoring.schemes]
    for index, scheme in enumerate(book.scoring.schemes):
        where = f"scoring scheme {scheme.id}"
        if scheme_ids.count(scheme.id) > 1:
            add(("scoring", "schemes", index, "id"), where, "duplicate scheme id")
        for code in ANSWER_CODES:
            if code not in scheme.scores:
                add(("scoring", "schemes", index, "scores"), where, f"answer {code!r} has no score")
        for code, value in scheme.scores.items():
            if code not in ANSWER_CODES:
                add(("scoring", "schemes", index, "scores", code), where, f"score for unknown answer {code!r}")
            elif value is not None and not 0 <= value <= 1:
                add(("scoring", "schemes", index, "scores", code), where, f"score for {code!r} must be between 0 and 1")
        if scheme.scores.get(NOT_APPLICABLE, None) is not None:
            add(
                ("scoring", "schemes", index, "scores", NOT_APPLICABLE),
                where,
                f"{NOT_APPLICABLE} must score null (it leaves the denominator)",
            )
    if book.scoring.default_scheme not in scheme_ids:
        add(("scoring", "default_scheme"), "", f"default scheme {book.scoring.default_scheme!r} is not defined")
    aggregation_ids = [a.id for a in book.scoring.aggregations]
    for index, aggregation in enumerate(book.scoring.aggregations):
        if aggregation_ids.index(aggregation.id) != index:
            add(("scoring", "aggregations", index, "id"), f"aggregation {aggregation.id}", "duplicate aggregation id")
    if book.scoring.default_aggregation not in aggregation_ids:
        add(("scoring", "default_aggregation"), "", f"default aggregation {book.scoring.default_aggregation!r} is not defined")


#: libyaml's parser where it is installed (ten times faster), for the pass that only counts depth.
EVENT_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: How deep values may nest (the real codebook needs 5 levels): deeper is refused before it is built.
MAX_DEPTH = 32
#: How many values the document may hold once its aliases are expanded (the real codebook: a few thousand).
MAX_VALUES = 100_000


def _too_deep(text: str, path: str) -> Problem | None:
    """Return the first value nested deeper than MAX_DEPTH, read from the parser's events (no recursion)."""
    stack: list[list] = []  # per open collection: [is_mapping, key or index, wants_key]
    try:
        events = list(yaml.parse(text, Loader=EVENT_LOADER))
    except yaml.YAMLError:
        return None  # not valid YAML: the composer below reports it, with its own line and words
    for event in events:
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
            continue
        if not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            continue
        if stack:
            parent = stack[-1]
            if not parent[0]:
                parent[1] += 1
            elif parent[2]:
                parent[1] = getattr(event, "value", "?")
            parent[2] = not parent[2] if parent[0] else parent[2]
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) >= MAX_DEPTH:
                parts = [str(entry[1]) for entry in stack]
                where = "key " + (".".join(parts[:3]) + "..." if len(parts) > 4 else ".".join(parts))
                return Problem(path, event.start_mark.line + 1, where, f"values are nested more than {MAX_DEPTH} levels deep")
            stack.append([isinstance(event, yaml.MappingStartEvent), -1, True])
    return None


def _alias_bomb(root: yaml.Node, path: str) -> Problem | None:
    """Return a problem when aliases expand the document past MAX_VALUES values, naming the largest repeated anchor."""
    sizes: dict[int, int] = {}
    uses: dict[int, int] = {}
    first: dict[int, tuple[yaml.Node, tuple]] = {}

    def size(node: yaml.Node, where: tuple) -> int:
        uses[id(node)] = uses.get(id(node), 0) + 1
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)], first[id(node)] = 1, (node, where)  # an alias inside its own anchor counts once (reported elsewhere)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(key, where) + size(value, (*where, key.value)) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item, (*where, index)) for index, item in enumerate(node.value))
        else:
            total = 1
        sizes[id(node)] = total
        return total

    if size(root, ()) <= MAX_VALUES:
        return None
    anchor = max((key for key in sizes if uses[key] > 1), key=lambda key: sizes[key], default=id(root))
    node, where = first[anchor]
    return Problem(
        path,
        node.start_mark.line + 1,
        "key " + ".".join(str(part) for part in where) if where else "",
        f"its aliases expand to more than {MAX_VALUES:,} values (this value is used {uses[anchor]} times): write the values out instead",
    )


def parse_codebook(text: str, path: str = "<string>") -> Codebook:
    """Validate codebook YAML text; raise CodebookError listing every problem."""
    problems: list[Problem] = []
    try:
        # Both checks come before the document is built: a deep or an expanding one would not finish.
        if (problem := _too_deep(text, path)) is not None:
            raise CodebookError([problem])
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None and (problem := _alias_bomb(root, path)) is not None:
            raise CodebookError([problem])
        # Built from the composed nodes rather than parsed a third time.
        data = yaml.SafeLoader("").construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        message = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        # The parser notices an unclosed bracket or quote later than where it opened: name both lines.
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            message += f" ({context} that starts on line {context_mark.line + 1})"
        raise CodebookError([Problem(path, line, "", message)]) from None
    lines = _LineMap(root)

    def add(loc: tuple, where: str, message: str) -> None:
        problems.append(Problem(path, lines.line(loc), where, message))

    for loc, line in lines.duplicates:
        problems.append(Problem(path, line, _describe(data, loc), f"duplicate key {loc[-1]!r}"))
    if lines.recursive:
        raise CodebookError(problems + [Problem(path, line, "", "a YAML alias refers to itself") for line in lines.recursive])
    if data is None and not problems:
        raise CodebookError([Problem(path, 1, "", "the file is empty")])
    if not isinstance(data, dict):
        raise CodebookError(
            problems
            + [Problem(path, lines.line(()) or 1, "", "the file must be a mapping with codebook, answers, categories, indicators...")]
        )
    try:
        book = Codebook.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = f"unknown key {loc[-1]!r}"
            elif error["type"] == "missing":
                message = f"missing key {loc[-1]!r}"
            elif error["type"] in ("literal_error", "string_pattern_mismatch"):
                message = f"{message}; got {error['input']!r}"
            add(loc, _describe(data, loc), message)
        raise CodebookError(_in_file_order(problems)) from None
    _semantic_problems(book, add)
    if problems:
        raise CodebookError(_in_file_order(problems))
    return book


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Sort problems by line so the report reads top to bottom (problems without a line come first)."""
    return sorted(problems, key=lambda p: p.line or 0)


def load_codebook(path: str | Path) -> Codebook:
    """Read and validate a codebook file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CodebookError([Problem(str(path), None, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise CodebookError([Problem(str(path), line, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    return parse_codebook(text, str(path))


def summary(book: Codebook) -> list[tuple[str, str, int]]:
    """Return (category id, name, indicator count) rows in codebook order."""
    return [(c.id, c.name, len(book.indicators_by_category[c.id])) for c in book.categories]
