"""The codebook's shape as pydantic models: strict (unknown keys refused), frozen, with derived lookups.

The answer scale is closed: the codebook must define exactly the codes of `rules.ANSWER_CODES`, in
that order, with its own labels and descriptions.
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from rightsdb.codebook.rules import ANSWER_CODES, GROUPED_ANSWER

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Identifier = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]*(-[0-9A-Z]+)?$", max_length=20)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodebookInfo(_Strict):
    id: Code
    title: str
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    description: str = ""
    reference: str = ""


class AnswerType(_Strict):
    code: Literal[ANSWER_CODES]  # type: ignore[valid-type]
    label: str
    description: str = ""


class Choice(_Strict):
    code: Code
    label: str


class Aggregation(_Strict):
    id: Literal["category_mean", "pooled"]
    label: str
    description: str = ""


class Scheme(_Strict):
    id: Code
    label: str
    description: str = ""
    scores: dict[str, float | None]


class Scoring(_Strict):
    default_scheme: Code
    default_aggregation: Literal["category_mean", "pooled"]
    aggregations: list[Aggregation]
    schemes: list[Scheme] = Field(min_length=1)


class Category(_Strict):
    id: Identifier
    name: str
    imbr_article: int = Field(ge=1)
    provenance: Literal["evidenced", "proposed"]
    description: str = ""


#: Per-answer guidance: one text for each code of the answer scale, and the instrument types to search.
Guidance = create_model(
    "Guidance",
    __base__=_Strict,
    sources=(list[Code], Field(default_factory=list)),
    **{code: (str, ...) for code in ANSWER_CODES},  # type: ignore[call-overload]
)


class Indicator(_Strict):
    id: Identifier
    category: Identifier
    imbr_article: int = Field(ge=1)
    provenance: Literal["evidenced", "proposed"]
    short_label: Annotated[str, Field(max_length=60)]
    question: str
    guidance: Guidance


class Codebook(_Strict):
    """The validated instrument, with lookups derived from it."""

    codebook: CodebookInfo
    answers: list[AnswerType]
    migrant_groups: list[Choice] = Field(min_length=1)
    instrument_types: list[Choice] = Field(min_length=1)
    scoring: Scoring
    categories: list[Category] = Field(min_length=1)
    indicators: list[Indicator] = Field(min_length=1)

    # A field validator (not a model validator) so the problem points at the `answers` line.
    @field_validator("answers")
    @classmethod
    def _answers_are_the_closed_scale(cls, answers: list[AnswerType]) -> list[AnswerType]:
        codes = tuple(a.code for a in answers)
        if codes != ANSWER_CODES:
            raise ValueError(f"answers must be exactly {', '.join(ANSWER_CODES)} in that order; got {', '.join(codes)}")
        return answers

    # Derived lookups. The model is frozen, so these are computed once per instance.
    @functools.cached_property
    def version(self) -> str:
        return self.codebook.version

    @functools.cached_property
    def indicator_ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.indicators)

    @functools.cached_property
    def indicators_by_id(self) -> dict[str, Indicator]:
        return {i.id: i for i in self.indicators}

    @functools.cached_property
    def categories_by_id(self) -> dict[str, Category]:
        return {c.id: c for c in self.categories}

    @functools.cached_property
    def indicators_by_category(self) -> dict[str, list[Indicator]]:
        grouped: dict[str, list[Indicator]] = {c.id: [] for c in self.categories}
        for indicator in self.indicators:
            grouped[indicator.category].append(indicator)
        return grouped

    @functools.cached_property
    def answer_labels(self) -> dict[str, str]:
        return {a.code: a.label for a in self.answers}

    @functools.cached_property
    def group_labels(self) -> dict[str, str]:
        return {g.code: g.label for g in self.migrant_groups}

    @functools.cached_property
    def instrument_labels(self) -> dict[str, str]:
        return {t.code: t.label for t in self.instrument_types}

    @functools.cached_property
    def schemes_by_id(self) -> dict[str, Scheme]:
        return {s.id: s for s in self.scoring.schemes}

    def label(self, indicator_id: str) -> str:
        """Name an indicator the way messages do: id and short label."""
        indicator = self.indicators_by_id.get(indicator_id)
        return f"{indicator_id} ({indicator.short_label})" if indicator else indicator_id

    def describe(self, indicator: Indicator) -> dict:
        """An indicator's category and wording, as the codebook table of a release and the API give them."""
        return {
            "category": indicator.category,
            "category_name": self.categories_by_id[indicator.category].name,
            "imbr_article": indicator.imbr_article,
            "provenance": indicator.provenance,
            "short_label": indicator.short_label,
            "question": indicator.question,
        }

    @property
    def grouped_answer(self) -> str:
        """The answer code that names migrant groups (for templates and scripts, which name no code)."""
        return GROUPED_ANSWER

    def scheme(self, scheme_id: str | None = None) -> Scheme:
        """Return the named scoring scheme, or the codebook's default."""
        return self.schemes_by_id[scheme_id or self.scoring.default_scheme]
