"""The channel kinds, one module each, behind one registry: ``KINDS[channel.kind]``.

Every kind module has the same three functions:

- ``check_url(url) -> str``: the URL a new or re-pointed channel of this kind
  stores (cleaned), or a ValidationError saying why not;
- ``new_secret() -> str``: what a new channel of this kind keeps as its secret;
- ``send(channel, message, *, connection=None)``: deliver an
  ``alerts.delivery.messages.Message`` now, or raise NotificationError
  (``connection``: an open SMTP session a batch shares; only email uses it).

A new kind is a new module here, a line in ``KINDS``, and its value in
``Channel.Kind`` (with the migration of the kind constraint).
"""

from types import ModuleType

from alerts.delivery.kinds import apprise, email, webhook

KINDS: dict[str, ModuleType] = {"email": email, "webhook": webhook, "apprise": apprise}
