"""The one error every delivery failure is: ``permanent`` says whether retrying can help.

As in healthchecks' transports: a channel kind raises it, the send attempt
(``alerts.delivery.send.deliver``) settles the notification by it (failed for
good, or due for a retry with backoff), and ``disable_channel`` switches the
channel off when the endpoint says it is gone for good (a webhook's 404 or 410).
"""


class NotificationError(Exception):
    """Sending failed; ``permanent`` when the same message can never succeed."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        disable_channel: bool = False,
        category: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent or disable_channel
        self.disable_channel = disable_channel
        # What a channel test answers: short and fixed. ``message`` may say more (an
        # SMTP server's reply, for the operator's own mail server).
        self.category = category or message


def _chain(exc: BaseException):
    """The exception and every one it wraps (causes, contexts, urllib3's ``reason``)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend((current.__cause__, current.__context__))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))


def failure_category(exc: BaseException) -> str:
    """A short, fixed description of a failed connection: never the upstream's own words.

    What a hostile destination sends back (an internal SMTP banner, an error
    page) must not reach its owner through an API answer or the admin.
    """
    import socket
    import ssl

    from alerts.delivery.egress import EgressRefused

    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}
    if any(isinstance(e, EgressRefused) for e in chain):
        return "destination not allowed"
    if any(isinstance(e, TimeoutError | socket.timeout) for e in chain) or any("Timeout" in n for n in names):
        return "timed out"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSLError" in names:
        return "TLS error"
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names:
        return "DNS lookup failed"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset"
    return "connection failed"
