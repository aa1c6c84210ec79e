"""Users' message templates: a webhook's JSON body, an Apprise title and body, with ``{{placeholders}}``.

Why not Django's template engine: a template here is written by any account, and
Django templates are a small language (attribute lookups on the objects in the
context, filters, tags, loops) that was never meant to run text from strangers:
one careless context object and ``{{ alert.user.password }}`` reads what it should
not, and a loop or a filter chain is CPU the server pays. What users need is to
put eight known values where they want them, so that is all this does: one pass
of a regular expression that replaces ``{{name}}`` (spaces inside the braces
allowed) with the value, and rejects any other ``{{...}}``. A value is never
scanned again, so a note that says ``{{url}}`` stays that text.

JSON bodies are parsed as JSON first: placeholders go inside JSON strings
(``{"text": "{{symbol}} at {{price}}"}``), the values are put into the parsed
strings and the body is written back with ``json.dumps``, so every value is
escaped as JSON requires (quotes, backslashes, newlines, control characters)
and the body is always valid JSON. Values are always strings.

Checked when the channel is made or changed: the size (ALERTS_TEMPLATE_MAX_CHARS),
JSON syntax, unknown placeholders, and a render with the largest values a firing
can have must stay within RENDERED_MAX_BYTES. A template that cannot render is a 400.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

PLACEHOLDERS = ("symbol", "price", "target", "direction", "time", "note", "alert_id", "url")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Any "{{" or "}}" left after the placeholders are found is a typo to report, not text to send.
STRAY_BRACES = re.compile(r"\{\{|\}\}")
# What one rendered message may weigh, whatever the values: a cost the server pays per delivery.
RENDERED_MAX_BYTES = 64 * 1024

# The values a channel test (and the check below) renders with: an example firing.
SAMPLE_VALUES = {
    "symbol": "BTCUSDT",
    "price": "70000.5",
    "target": "70000",
    "direction": "above",
    "time": "2026-01-01T12:00:00Z",
    "note": 'an example note: "quotes", \\backslashes\\ and a\nnew line',
    "alert_id": "1",
    "url": "https://pricealert.example/alerts/1",
}


class TemplateError(ValueError):
    """The template cannot render; the message says why."""


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str


def _placeholders_in(text: str) -> list[str]:
    names = PLACEHOLDER.findall(text)
    unknown = sorted({name for name in names if name not in PLACEHOLDERS})
    if unknown:
        known = ", ".join("{{" + name + "}}" for name in PLACEHOLDERS)
        raise TemplateError("Unknown placeholder {{" + unknown[0] + "}}: use " + known + ".")
    if STRAY_BRACES.search(PLACEHOLDER.sub("", text)):
        raise TemplateError('Unbalanced "{{" or "}}": a placeholder is written {{name}}.')
    return names


def substitute(text: str, values: Mapping[str, str]) -> str:
    """One pass: each {{name}} becomes its value; values are never scanned for placeholders."""
    return PLACEHOLDER.sub(lambda match: values[match[1]], text)


def _strings_in(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings_in(item)


def _filled(node, values: Mapping[str, str]):
    if isinstance(node, str):
        return substitute(node, values)
    if isinstance(node, dict):
        return {substitute(key, values): _filled(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_filled(item, values) for item in node]
    return node


def _parsed_json(template: str):
    try:
        return json.loads(template, parse_float=str, parse_int=str, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise TemplateError(
            "Not valid JSON (placeholders go inside JSON strings, e.g. "
            '{"text": "{{symbol}} at {{price}}"}): ' + str(exc)[:200]
        ) from exc


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def render_json_object(template: str, values: Mapping[str, str]):
    """The JSON template filled in: a Python value (json.dumps of it is the body)."""
    return _filled(json.loads(template), values)


def render_json(template: str, values: Mapping[str, str]) -> str:
    """The body a webhook posts: the template's JSON, values escaped by json.dumps."""
    return json.dumps(render_json_object(template, values), ensure_ascii=False)


def _worst_values() -> dict[str, str]:
    from alerts.models import NOTE_MAX_LENGTH

    # A note of the character JSON escapes longest ("\u2028" stays one char with ensure_ascii=False,
    # a control character becomes six): the heaviest a firing's values can be.
    values = {name: "9" * 40 for name in PLACEHOLDERS}
    values["note"] = "\x01" * NOTE_MAX_LENGTH
    values["url"] = "h" * 300
    return values


def _check_size(template: str, field: str) -> None:
    cap = settings.ALERTS_TEMPLATE_MAX_CHARS
    if len(template) > cap:
        raise ValidationError({field: f"At most {cap} characters (this one has {len(template)})."})


def check_json_template(template: str, *, field: str = "body_template") -> str:
    """A webhook body template as stored ("" for none), or a ValidationError saying why it cannot render."""
    if not template.strip():
        return ""
    _check_size(template, field)
    try:
        parsed = _parsed_json(template)
        if not isinstance(parsed, dict | list):
            raise TemplateError("The body must be a JSON object or array.")
        for text in _strings_in(parsed):
            _placeholders_in(text)
        if STRAY_BRACES.search(PLACEHOLDER.sub("", _outside_strings(template))):
            raise TemplateError("Placeholders go inside JSON strings.")
        rendered = render_json(template, _worst_values())
        json.loads(rendered)  # what receivers parse
    except TemplateError as exc:
        raise ValidationError({field: str(exc)}) from exc
    if len(rendered.encode()) > RENDERED_MAX_BYTES:
        raise ValidationError(
            {field: f"Renders larger than {RENDERED_MAX_BYTES} bytes with the longest values."}
        )
    return template


def _outside_strings(template: str) -> str:
    # JSON text with every string literal removed: what is left must hold no placeholder.
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', template)


def check_text_template(template: str, *, field: str, max_chars: int | None = None) -> str:
    """An Apprise title or body template as stored ("" for none), or a ValidationError."""
    if not template.strip():
        return ""
    if max_chars is not None and len(template) > max_chars:
        raise ValidationError({field: f"At most {max_chars} characters (this one has {len(template)})."})
    _check_size(template, field)
    try:
        _placeholders_in(template)
    except TemplateError as exc:
        raise ValidationError({field: str(exc)}) from exc
    if len(substitute(template, _worst_values()).encode()) > RENDERED_MAX_BYTES:
        raise ValidationError(
            {field: f"Renders larger than {RENDERED_MAX_BYTES} bytes with the longest values."}
        )
    return template
