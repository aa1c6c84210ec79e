"""The Jinja2 environment the emails of a firing render in (settings.TEMPLATES, engine "emails").

Jinja2 rather than Django's engine for these three templates: a crash day
renders them ten thousand times, and Jinja2 (templates compiled to Python
functions) took a third of the CPU (docs/BENCHMARKS.md). Pages stay on Django's
engine. What must not change with the engine is what a user receives, so
values are escaped as Django's templates escape them (``&quot;``, ``&#x27;``;
markupsafe would write ``&#34;``, ``&#39;``) wherever autoescaping is on, and
left alone inside ``{% autoescape false %}`` (the plain text and the subject).
"""

from jinja2 import Environment, pass_eval_context
from markupsafe import Markup, escape

# markupsafe's entities for the two quotes, and Django's (django.utils.html.escape).
_QUOTES = (("&#34;", "&quot;"), ("&#39;", "&#x27;"))


@pass_eval_context
def _escaped_as_django_does(eval_context, value):
    # Runs on every {{ value }} before Jinja2's own escaping, which leaves a Markup alone.
    if not eval_context.autoescape or hasattr(value, "__html__"):
        return value
    escaped = str(escape(value))  # the five characters Django escapes, the same way but the quotes
    if "&#3" in escaped:
        for markupsafe_entity, django_entity in _QUOTES:
            escaped = escaped.replace(markupsafe_entity, django_entity)
    return Markup(escaped)


def environment(**options) -> Environment:
    return Environment(**options, finalize=_escaped_as_django_does)
