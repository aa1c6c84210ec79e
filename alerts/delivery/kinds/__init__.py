"""The channel kinds, one module each, behind one registry: ``KINDS[channel.kind]``.

Every kind module has the same three functions:

- ``check_url(url) -> str``: the URL a new or re-pointed channel of this kind
  stores (cleaned), or a ValidationError saying why not;
- ``new_secret() -> str``: what a new channel of this kind keeps as its secret;
- ``session()``: a context manager yielding what a batch's sends of this kind
  share (email: one SMTP connection; webhook: a requests.Session that keeps
  connections alive; apprise: nothing);
- ``send(channel, message, *, connection=None)``: deliver an
  ``alerts.delivery.messages.Message`` now, or raise NotificationError
  (``connection``: what ``session()`` yielded, when a batch shares one).

A new kind is a new module here, a line in ``KINDS``, and its value in
``Channel.Kind`` (with the migration of the kind constraint).
"""

import contextlib
from types import ModuleType

from alerts.delivery.kinds import apprise, email, webhook

KINDS: dict[str, ModuleType] = {"email": email, "webhook": webhook, "apprise": apprise}


class Sessions:
    """A batch's sessions, one per channel kind, opened at its first send and closed at the end.

    ``with Sessions() as sessions: kind.send(channel, message, connection=sessions.get("email"))``
    """

    def __init__(self):
        self._open: dict[str, object] = {}
        self._stack = contextlib.ExitStack()

    def get(self, kind: str):
        if kind not in self._open:
            self._open[kind] = self._stack.enter_context(KINDS[kind].session())
        return self._open[kind]

    def __enter__(self) -> "Sessions":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.close()
