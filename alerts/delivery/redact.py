"""No credentials in what is recorded about a delivery: errors on notifications, a channel's disabled reason.

An Apprise URL carries bot tokens and a webhook URL may carry a key in its
path or query; an exception's text (a library's repr, an SMTP reply) can
quote either. Before any such text is stored, the channel's own URL and secret
are masked wherever they appear, and so is everything after the host of any
other URL in it.
"""

import re

MASK = "••••••"
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,20})://([^\s'\"<>()]+)")


def _masked(match: re.Match) -> str:
    scheme, rest = match.group(1), match.group(2)
    if scheme.lower() not in ("http", "https"):
        return f"{scheme}://{MASK}"  # Apprise: tokens sit where a host would
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]  # never user:password@
    host = host.split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{host}/{MASK}"


# urllib3 quotes a request's path and query on their own ("... with url: /hook?key=...").
_REQUEST_PATH = re.compile(r"(with url: )\S+")


def _parts(secret: str) -> list[str]:
    """The secret, and for a URL also its path and query (libraries quote them without the host)."""
    parts = [secret]
    if "://" in secret:
        after_host = secret.split("://", 1)[1].partition("/")[2]
        if after_host:
            parts.append("/" + after_host)
    return parts


def redact(text: str, *secrets: str) -> str:
    """``text`` with each of ``secrets`` (a channel's URL, its key) and any URL's credentials masked."""
    pieces = [part for secret in secrets if secret for part in _parts(secret) if len(part) >= 4]
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, MASK)
    text = _REQUEST_PATH.sub(rf"\1{MASK}", text)
    return _URL.sub(_masked, text)
