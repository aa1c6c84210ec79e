"""The worker's part of an account email, for tests: run the queued send tasks, read links from the mail.

Registering, asking for a reset and asking for a new confirmation link queue
``accounts.tasks.send_account_email`` on commit; here those messages are taken
off the real Redis broker and run as a worker would, so the mails go through
the real SMTP server of the ``mail`` fixture.
"""

import base64
import json
import re

from accounts.tasks import send_account_email_task

TASK = "accounts.tasks.send_account_email"


def send_queued_account_emails(redis_client, queue: str = "celery") -> int:
    """Run every queued account-email task (others are put back); returns how many ran."""
    ran = 0
    others = []
    while (raw := redis_client.rpop(queue)) is not None:
        envelope = json.loads(raw)
        if envelope["headers"]["task"] != TASK:
            others.append(raw)
            continue
        args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        send_account_email_task(*args, **kwargs)
        ran += 1
    for raw in others:
        redis_client.lpush(queue, raw)
    return ran


def link_params(text: str, path: str) -> dict[str, str]:
    """The query parameters of the first link to ``path`` in a mail's text."""
    from urllib.parse import parse_qsl, urlsplit

    match = re.search(rf"https?://\S+{re.escape(path)}\?\S+", text)
    assert match, f"no link to {path} in:\n{text}"
    return dict(parse_qsl(urlsplit(match.group(0)).query))
