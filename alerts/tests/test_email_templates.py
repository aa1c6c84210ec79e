"""The emails' template engine (alerts.delivery.jinja): Jinja2, escaping exactly as Django's templates do."""

from django.template import engines
from django.utils.html import escape
from django.utils.safestring import mark_safe

from alerts.delivery.messages import EMAIL_TEMPLATES

NASTY = "<script>alert(\"x\")</script> & 'co' \u2014 caf\u00e9"


def render(source: str, **context) -> str:
    return engines[EMAIL_TEMPLATES].from_string(source).render(context)


def test_a_value_is_escaped_as_django_escapes_it():
    assert render("<p>{{ note }}</p>", note=NASTY) == f"<p>{escape(NASTY)}</p>"
    assert "&quot;x&quot;" in render("{{ note }}", note=NASTY)
    assert "&#x27;co&#x27;" in render("{{ note }}", note=NASTY)


def test_a_safe_string_is_not_escaped_twice():
    assert render("{{ html }}", html=mark_safe("<b>&quot;</b>")) == "<b>&quot;</b>"


def test_plain_text_is_left_as_it_is():
    assert render("{% autoescape false %}{{ note }}{% endautoescape %}", note=NASTY) == NASTY


def test_values_that_are_not_strings_render_as_django_renders_them():
    assert render("{{ a }} {{ b }} {{ c }}", a=3, b=None, c="") == "3 None "
