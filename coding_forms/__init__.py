"""WTForms classes built from the codebook: the coding page form and the legal source form.

The coding form has one sub-form per indicator (answer, groups, notes, confirmation, citation rows),
named by indicator id, so the same class serves every codebook without naming any indicator. Classes
are cached per codebook id and version: building ~65 sub-form classes per request would be wasted work,
and the frozen codebook model itself is not hashable.

A page shown fresh (GET) does not need the bound form: `coding_view` gives the template the same
names, ids, labels, choices and data (computed by the same WTForms fields) without binding ~1,000
field objects whose reference cycles (field <-> form) only the cyclic garbage collector frees. Saving
(POST) always uses the real form: CSRF, validation and error display are WTForms' as before.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
    ValidationError,
)
from wtforms.fields import DateField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from rightsdb.codebook import Codebook
from rightsdb.codebook.rules import url_problem
from rightsdb.coding.answers import AnswerInput
from rightsdb.coding.citations import CitationInput, SourceInput
from rightsdb.models import Answer, LegalSource, parse_row_id
from rightsdb.text import clean_typed

NEW_SOURCE = "new"
#: Typed text is validated as the database will store it (rightsdb.text).
TYPED = [clean_typed]

_CLASSES: dict[tuple[str, str, str], type] = {}


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def http_url(_form, field) -> None:
    """Accept an empty value or an http(s) address (the rule lives in rightsdb.codebook.rules)."""
    message = url_problem(field.data or "")
    if message:
        raise ValidationError(message)


def _cached(codebook: Codebook, kind: str, build) -> type:
    key = (codebook.codebook.id, codebook.version, kind)
    if key not in _CLASSES:
        _CLASSES[key] = build(codebook)
    return _CLASSES[key]


def _build_indicator_form(codebook: Codebook) -> type[Form]:
    instruments = [SelectChoice(t.code, t.label) for t in codebook.instrument_types]

    class IndicatorForm(Form):
        version = HiddenField(default="0")
        value = RadioField("Answer", choices=[SelectChoice(a.code, a.label) for a in codebook.answers], validate_choice=False)
        groups = MultiCheckboxField(
            "Migrant groups the protection is limited to (conditional answers)",
            choices=[SelectChoice(g.code, g.label) for g in codebook.migrant_groups],
            validate_choice=False,
        )
        notes = TextAreaField("Notes (what was searched; why not applicable)", filters=TYPED)
        confirm = BooleanField("I have checked this carried-forward answer against the law in force")
        remove = SelectMultipleField("Remove citation", coerce=int, validate_choice=False)
        source = SelectField("Legal source", choices=[], validate_choice=False)
        pinpoint = StringField("Pinpoint (article, section, paragraph)", validators=[Length(max=300)], filters=TYPED)
        cite_url = URLField("Deep link to the provision (optional)", validators=[http_url, Length(max=2000)], filters=TYPED)
        excerpt = TextAreaField("Excerpt (original language)", filters=TYPED)
        translation = TextAreaField("English translation (optional)", filters=TYPED)
        new_source_type = SelectField("New source: type of instrument", choices=instruments, validate_choice=False)
        new_source_title = StringField("New source: title", validators=[Length(max=500)], filters=TYPED)
        new_source_url = URLField("New source: web address", validators=[http_url, Length(max=2000)], filters=TYPED)

    return IndicatorForm


def _build_coding_form(codebook: Codebook) -> type[FlaskForm]:
    indicator_form = indicator_form_class(codebook)
    attrs = {indicator.id: FormField(indicator_form, label=indicator.id) for indicator in codebook.indicators}
    return type("CodingForm", (FlaskForm,), attrs)


def indicator_form_class(codebook: Codebook) -> type[Form]:
    """Return the (cached) sub-form class used for every indicator of this codebook."""
    return _cached(codebook, "indicator", _build_indicator_form)


def coding_form_class(codebook: Codebook) -> type[FlaskForm]:
    """Return the (cached) coding page form class for this codebook version."""
    return _cached(codebook, "coding", _build_coding_form)


# The sub-form fields that show a stored answer (every other field starts blank on a fresh page).
ANSWER_FIELDS = ("version", "value", "groups", "notes")


def answer_data(answer: Answer | None) -> dict:
    """Return the sub-form data showing a stored answer (blank citation row); keys among ANSWER_FIELDS."""
    if answer is None:
        return {"version": "0"}
    return {"version": str(answer.version), "value": answer.value, "groups": list(answer.groups), "notes": answer.notes}


#: The option groups of a citation row's source select: the coder's own (private) sources, then the register.
OWN_SOURCES = "Your sources (only you see them until both codings are submitted)"
REGISTER_SOURCES = "Register (reviewed sources of the country)"


def source_choices(sources: list[LegalSource]) -> list[SelectChoice]:
    """Return the options of a citation row's source select: none, the assignment's own sources, the register, a new one.

    `sources` is `rightsdb.coding.citations.list_sources(assignment)`: a source with an assignment is
    the coder's own (private), one without is in the country's register.
    """

    def option(source: LegalSource, group: str) -> SelectChoice:
        when = f" ({source.date_in_force.isoformat()})" if source.date_in_force else ""
        return SelectChoice(str(source.id), source.title + when, optgroup=group)

    choices = [SelectChoice("", "— choose a legal source —")]
    choices += [option(s, OWN_SOURCES) for s in sources if s.assignment_id is not None]
    choices += [option(s, REGISTER_SOURCES) for s in sources if s.assignment_id is None]
    choices.append(SelectChoice(NEW_SOURCE, "+ New source (fill in type, title and address below)"))
    return choices


def build_coding_form(codebook: Codebook, answers: dict[str, Answer], sources: list[LegalSource], *, formdata=None) -> FlaskForm:
    """Build the coding form from stored answers, or from posted data when `formdata` is given."""
    form_class = coding_form_class(codebook)
    if formdata is None:
        form = form_class(formdata=None, data={i: answer_data(answers.get(i)) for i in codebook.indicator_ids})
    else:
        form = form_class(formdata=formdata)
    choices = source_choices(sources)
    for indicator_id in codebook.indicator_ids:
        form[indicator_id].form.source.choices = choices
    return form


class FieldView(NamedTuple):
    """What the coding template reads of a bound field, for a page shown fresh (read-only, no errors)."""

    name: str
    id: str
    label: Any  # the field's wtforms Label (its .text is shown)
    data: Any
    choices: Any = None
    errors: tuple = ()


class IndicatorView:
    """One indicator's fields, by field name, as `form[indicator_id].form` gives them."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, FieldView]) -> None:
        self._fields = fields

    @property
    def form(self) -> IndicatorView:
        """Return itself, as a bound FormField's `.form` is the sub-form (no reference cycle)."""
        return self

    def __getattr__(self, name: str) -> FieldView:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None


class CodingView:
    """The coding form for a page shown fresh: `view[indicator_id].form.<field>` as with the bound form."""

    __slots__ = ("_indicators",)

    def __init__(self, indicators: dict[str, IndicatorView]) -> None:
        self._indicators = indicators

    def __getitem__(self, indicator_id: str) -> IndicatorView:
        return self._indicators[indicator_id]

    def __contains__(self, indicator_id: str) -> bool:
        return indicator_id in self._indicators


def _static_views(codebook: Codebook) -> dict[str, dict[str, FieldView]]:
    """Return, per indicator, every field's view on a fresh page (read from a sub-form bound as FormField binds it).

    Built once per codebook version; the fields an answer fills (ANSWER_FIELDS) and the source select
    (the country's sources) are replaced per page by `coding_view`, the others never change.
    """

    def build(book: Codebook) -> dict:
        form_class = indicator_form_class(book)
        views = {}
        for indicator_id in book.indicator_ids:
            sub = form_class(formdata=None, prefix=f"{indicator_id}-")
            views[indicator_id] = {f.short_name: FieldView(f.name, f.id, f.label, f.data, getattr(f, "choices", None)) for f in sub}
        return views

    return _cached(codebook, "views", build)


def coding_view(codebook: Codebook, answers: dict[str, Answer], sources: list[LegalSource]) -> CodingView:
    """Return what `build_coding_form(codebook, answers, sources)` shows, without binding a form per indicator.

    The fields an answer fills go through the fields of one bound sub-form, so their values, defaults
    and coercion are WTForms' own, exactly as in the bound form.
    """
    processor = indicator_form_class(codebook)(formdata=None)
    choices = source_choices(sources)
    indicators = {}
    for indicator_id, statics in _static_views(codebook).items():
        data = answer_data(answers.get(indicator_id))
        views = dict(statics)
        for name in ANSWER_FIELDS:
            field = processor[name]
            if name in data:
                field.process(None, data[name])
            else:
                field.process(None)
            views[name] = statics[name]._replace(data=field.data)
        views["source"] = statics["source"]._replace(choices=choices)
        indicators[indicator_id] = IndicatorView(views)
    return CodingView(indicators)


def show_stored(form: FlaskForm, indicator_id: str, answer: Answer | None) -> None:
    """Replace one indicator's posted values by its stored values (after a conflict)."""
    sub = form[indicator_id].form
    data = answer_data(answer)
    sub.version.data = data["version"]
    sub.value.data = data.get("value")
    sub.groups.data = data.get("groups", [])
    sub.notes.data = data.get("notes", "")
    sub.confirm.data = False


def _new_citation(sub: Form) -> CitationInput | None:
    """Read a citation row; None when the coder left it blank."""
    texts = [sub.pinpoint.data, sub.cite_url.data, sub.excerpt.data, sub.translation.data]
    choice = sub.source.data or ""
    if not choice and not any((t or "").strip() for t in texts):
        return None
    new_source = None
    source_id = None
    if choice == NEW_SOURCE:
        new_source = SourceInput(
            instrument_type=sub.new_source_type.data or "", title=sub.new_source_title.data or "", url=sub.new_source_url.data or ""
        )
    elif parse_row_id(choice) is not None:
        source_id = parse_row_id(choice)
    return CitationInput(
        source_id=source_id,
        new_source=new_source,
        pinpoint=sub.pinpoint.data or "",
        url=sub.cite_url.data or "",
        excerpt=sub.excerpt.data or "",
        translation=sub.translation.data or "",
    )


def read_answer_inputs(form: FlaskForm, indicator_ids: list[str]) -> list[AnswerInput]:
    """Turn the posted sub-forms of `indicator_ids` into domain inputs."""
    inputs = []
    for indicator_id in indicator_ids:
        sub = form[indicator_id].form
        version = sub.version.data or "0"
        inputs.append(
            AnswerInput(
                indicator_id=indicator_id,
                version=-1 if parse_row_id(version) is None else parse_row_id(version),
                value=sub.value.data or None,
                groups=tuple(sub.groups.data or ()),
                notes=sub.notes.data or "",
                confirm=bool(sub.confirm.data),
                remove_citation_ids=frozenset(sub.remove.data or ()),
                new_citation=_new_citation(sub),
            )
        )
    return inputs


def source_form_class(codebook: Codebook) -> type[FlaskForm]:
    """Return the (cached) legal source form class, its instrument types taken from the codebook."""

    def build(book: Codebook) -> type[FlaskForm]:
        class SourceForm(FlaskForm):
            instrument_type = SelectField(
                "Type of instrument", choices=[SelectChoice(t.code, t.label) for t in book.instrument_types], validators=[InputRequired()]
            )
            title = StringField(
                "Title", validators=[InputRequired(message="Enter the title of the instrument."), Length(max=500)], filters=TYPED
            )
            url = URLField("Web address (official text)", validators=[http_url, Length(max=2000)], filters=TYPED)
            date_in_force = DateField("Date in force", validators=[Optional()])
            language = StringField("Language of the original text (e.g. de, ru, tr, ar)", validators=[Length(max=20)], filters=TYPED)

        return SourceForm

    return _cached(codebook, "source", build)


def read_source(form: FlaskForm) -> SourceInput:
    """Turn a validated source form into a domain input."""
    return SourceInput(
        instrument_type=form.instrument_type.data or "",
        title=form.title.data or "",
        url=form.url.data or "",
        date_in_force=form.date_in_force.data,
        language=form.language.data or "",
    )
