"""The one error every delivery failure is: ``permanent`` says whether retrying can help.

As in healthchecks' transports: a channel kind raises it, the send attempt
(``alerts.delivery.send.deliver``) settles the notification by it (failed for
good, or due for a retry with backoff), and ``disable_channel`` switches the
channel off when the endpoint says it is gone for good (a webhook's 404 or 410).
"""


class NotificationError(Exception):
    """Sending failed; ``permanent`` when the same message can never succeed."""

    def __init__(self, message: str, *, permanent: bool = False, disable_channel: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent or disable_channel
        self.disable_channel = disable_channel
