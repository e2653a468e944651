"""The run form: one field per runbook parameter, and the submitted form read back into the
parameters a run is started with.

Pure (no request, no store): the pages hand in a runbook and a submitted form and get back field
specs to render or the text values to start with. A submitted value is checked by the very
function the CLI checks ``-p name=value`` with (``resolve_params(..., from_text=True)``), so a
field's message is the CLI's message, word for word (a secret's value masked).

How each parameter type is asked for:

* ``enum``: a select of its choices (with an empty first option when nothing is chosen by
  default, so that a required enum left alone says it is required);
* ``boolean``: a checkbox; an unchecked box means false (a browser sends nothing for it, so a
  form always gives every boolean);
* ``integer`` and ``number``: number inputs with the parameter's minimum and maximum;
* ``list``: repeated text fields, one item each, with one blank field to add an item and an
  "Add another" button that brings the form back with one more (no JavaScript needed; an item
  may hold a comma, which ``-p name=a,b`` could not say); blank fields are ignored, and a
  field holding several lines gives one item per line;
* ``secret`` (of any type): a password field, never filled in: not with a default, not with
  what was entered when the form comes back with a message, and its message shows ``***``
  where the CLI's quotes the refused value. Its text is read as the CLI reads
  ``-p name=value`` (a secret list is comma-separated or JSON);
* anything else: a text input.

A field left empty is a parameter not given, as a ``-p`` left out: its default applies, or it
is reported as required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from starlette.datastructures import FormData

from runbook_engine.errors import ParameterError
from runbook_engine.spec.models import Parameter, Runbook
from runbook_engine.spec.params import REDACTED, redact_text, resolve_params

#: the form field names of parameters carry this prefix, so that they never meet the page's
#: own fields (the CSRF token, say) whatever a runbook names its parameters
PREFIX = "p."

Widget = Literal["text", "number", "select", "checkbox", "password", "repeated"]


def field_name(name: str) -> str:
    return PREFIX + name


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool = False


@dataclass(frozen=True)
class FieldSpec:
    """One form field, everything a template needs to draw it."""

    #: the parameter's name
    name: str
    #: the form field's name (``p.<name>``)
    input_name: str
    #: the element id, for the label's ``for``
    input_id: str
    widget: Widget
    #: the text the field shows; always empty for a secret
    value: str = ""
    #: checkbox: ticked
    checked: bool = False
    options: tuple[Option, ...] = ()
    required: bool = False
    secret: bool = False
    description: str = ""
    #: what the field accepts, in words (type, bounds, pattern)
    hint: str = ""
    #: number inputs: ``min``, ``max`` and ``step`` attributes
    min: str | None = None
    max: str | None = None
    step: str | None = None
    #: text inputs: ``minlength`` and ``maxlength`` attributes
    minlength: int | None = None
    maxlength: int | None = None
    #: the CLI's message for what was entered, when it was refused
    error: str | None = None
    #: repeated fields (a list): the items shown, one field each, the last ones blank
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Submitted:
    """A submitted form, read: ``given`` is what a run is started with (text, as ``-p`` gives
    it, secrets included), ``entered`` what the form shows again (no secrets), ``errors`` the
    CLI's message for every field refused, by parameter name."""

    given: dict[str, Any]
    entered: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    #: the typed values, when nothing was refused
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _text(value: Any) -> str:
    """A default as the field shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return str(value)


def _hint(param: Parameter) -> str:
    kind = param.type
    parts: list[str] = []
    if kind == "list":
        parts.append(f"one {param.items} per line" if not param.secret else "comma-separated")
    elif kind == "enum":
        parts.append("one of the choices")
    elif kind == "string":
        parts.append("text")
    else:
        parts.append(kind)
    if kind in ("integer", "number"):
        if param.minimum is not None and param.maximum is not None:
            parts.append(f"from {_number(param.minimum)} to {_number(param.maximum)}")
        elif param.minimum is not None:
            parts.append(f"at least {_number(param.minimum)}")
        elif param.maximum is not None:
            parts.append(f"at most {_number(param.maximum)}")
    if kind in ("string", "list"):
        unit = "characters" if kind == "string" else "items"
        low, high = param.min_length, param.max_length
        if low is not None and high is not None:
            parts.append(f"{low} to {high} {unit}")
        elif low is not None:
            parts.append(f"at least {low} {unit}")
        elif high is not None:
            parts.append(f"at most {high} {unit}")
        if param.pattern is not None:
            parts.append(f"matching {param.pattern}")
    if param.secret:
        parts.append("secret: never shown, logged or stored")
    return ", ".join(parts)


_WIDGETS: dict[str, Widget] = {
    "enum": "select",
    "boolean": "checkbox",
    "integer": "number",
    "number": "number",
    "list": "repeated",
}


def _widget(param: Parameter) -> Widget:
    if param.secret:
        return "password"
    return _WIDGETS.get(param.type, "text")


def build_fields(
    runbook: Runbook,
    entered: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    more: str | None = None,
) -> list[FieldSpec]:
    """The form's fields, in declaration order: filled with the defaults, or with what was
    ``entered`` (when the form comes back with ``errors``). Secrets are never filled in.
    ``more``: a list parameter whose "Add another" was pressed gets a second blank field."""
    out: list[FieldSpec] = []
    for name, param in runbook.parameters.items():
        widget = _widget(param)
        has_default = "default" in param.model_fields_set
        if entered is not None:
            shown = entered.get(name, "")
        else:
            shown = _text(param.default) if has_default else ""
        spec = FieldSpec(
            name=name,
            input_name=field_name(name),
            input_id=f"param-{name}",
            widget=widget,
            value="" if param.secret else shown,
            required=param.is_required,
            secret=param.secret,
            description=param.description,
            hint=_hint(param),
            error=(errors or {}).get(name),
        )
        if widget == "checkbox":
            spec = replace(spec, value="true", checked=shown.strip().lower() == "true")
        elif widget == "select":
            assert param.choices is not None  # the model requires choices for an enum
            options = [Option(str(c), str(c), str(c) == shown) for c in param.choices]
            if not any(o.selected for o in options):
                # nothing chosen: an empty first option, so that leaving it is "not given"
                options.insert(0, Option("", "(choose)", True))
            spec = replace(spec, options=tuple(options))
        elif widget == "number":
            spec = replace(
                spec,
                min=None if param.minimum is None else _number(param.minimum),
                max=None if param.maximum is None else _number(param.maximum),
                step="1" if param.type == "integer" else "any",
            )
        elif widget == "text":
            spec = replace(spec, minlength=param.min_length, maxlength=param.max_length)
        elif widget == "repeated":
            items = [item for item in shown.split("\n") if item.strip()]
            blanks = 2 if more == name else 1
            spec = replace(spec, value="", items=(*items, *([""] * blanks)))
        out.append(spec)
    return out


def _read(param: Parameter, raw: str | None) -> str | list[str] | None:
    """The value a field gives (``None``: not given), in the form the CLI's checks take."""
    if param.type == "boolean" and not param.secret:
        # an unticked checkbox sends nothing: it says false, it does not leave the value out
        return "true" if (raw or "").strip().lower() == "true" else "false"
    if raw is None or not raw.strip():
        return None
    if param.type == "list" and not param.secret:
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if param.type in ("integer", "number", "enum"):
        return raw.strip()  # a browser's number field may pad nothing, but a pasted one may
    return raw


def _entered(param: Parameter, raw: str | None) -> str:
    if param.secret:
        return ""
    if param.type == "boolean":
        return "true" if (raw or "").strip().lower() == "true" else "false"
    return raw or ""


def _one(form: FormData, name: str) -> str | None:
    value = form.get(field_name(name))
    return value if isinstance(value, str) else None  # an uploaded file is no parameter


def _lines(form: FormData, name: str) -> str | None:
    """A list's repeated fields as one text, an item per line (``None``: no field sent)."""
    values = [v for v in form.getlist(field_name(name)) if isinstance(v, str)]
    return "\n".join(v.strip() for v in values if v.strip()) if values else None


def _masked(message: str, *secrets: str | None) -> str:
    """``message`` without the secret text it quotes: the CLI shows a refused value to the
    terminal it was typed on, a page must not send a secret back to the browser."""
    texts = [t for t in secrets if t and t.strip()]
    for text in texts:
        for shown in (repr(text), repr(text.strip())):
            message = message.replace(shown, repr(REDACTED))
    return redact_text(message, tuple(t.strip() for t in texts if t.strip() in message))


def _secret_texts(form: FormData, runbook: Runbook) -> list[str | None]:
    return [_one(form, n) for n, p in runbook.parameters.items() if p.secret]


def parse_form(runbook: Runbook, form: FormData) -> Submitted:
    """Read a submitted run form. Every field is checked, so that the form comes back with a
    message on each field that is wrong, not only on the first; each message is the CLI's
    (``parameter 'count': expected at most 5, got 9``)."""
    given: dict[str, Any] = {}
    entered: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, param in runbook.parameters.items():
        repeated = param.type == "list" and not param.secret
        raw = _lines(form, name) if repeated else _one(form, name)
        entered[name] = _entered(param, raw)
        value = _read(param, raw)
        if value is not None:
            given[name] = value
        # the runbook with this one parameter: resolve_params' own message for it, whether
        # the value is wrong or missing, without the first wrong field hiding the others
        alone = runbook.model_copy(update={"parameters": {name: param}})
        try:
            resolve_params(alone, {name: value} if value is not None else {}, from_text=True)
        except ParameterError as exc:
            errors[name] = _masked(str(exc), raw) if param.secret else str(exc)
    if errors:
        return Submitted(given, entered, errors)
    try:
        values = resolve_params(runbook, given, from_text=True)
    except ParameterError as exc:  # each field passed alone; kept in case the whole does not
        return Submitted(
            given, entered, {exc.name: _masked(str(exc), *_secret_texts(form, runbook))}
        )
    return Submitted(given, entered, values=values)
