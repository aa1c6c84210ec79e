"""The email a notification sends, as Django builds it, flattened for less CPU: same bytes, cheaper path.

On a crash day a delivery process builds thousands of messages, and a third of
its CPU per email went to Python's ``email`` package turning Django's message
into bytes (profiled: bench/delivery_cpu.py, docs/BENCHMARKS.md). Two costs there
do nothing for our messages, and both are skipped through the package's own
extension points, never by writing MIME by hand:

- **Header folding.** Django's messages use the ``compat32`` policy, which
  passes every header (a dozen per message) through ``email.header.Header`` to
  fold it. A header of printable ASCII words under the line limit folds to
  itself; ``QuickFoldCompat32`` writes those as they are and hands every other
  header to ``compat32`` (tests compare the two on every header we send and on
  random ones).
- **The boundary.** Without one, the generator draws a random boundary and
  compiles a regular expression for it to search the parts (a new pattern each
  message, so ``re``'s cache never helps). ``AlertEmail`` sets a random one
  itself, after checking that no part's text contains it.

Every ``EMAIL_BACKEND`` keeps working: this is Django's ``EmailMultiAlternatives``;
a backend that calls ``message()`` gets the same message, one that reads the
fields (django-anymail) never sees the difference.
"""

import re
import secrets
from email.policy import Compat32

from django.core.mail import EmailMultiAlternatives

# Printable ASCII words separated by single spaces: what compat32 folds to itself when short.
_UNFOLDED = re.compile(r"[!-~]+(?: [!-~]+)*")


class QuickFoldCompat32(Compat32):
    """compat32, writing a short header of printable ASCII words without the folding machinery."""

    def fold_binary(self, name: str, value) -> bytes:
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and _UNFOLDED.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


QUICK_FOLD = QuickFoldCompat32()


class AlertEmail(EmailMultiAlternatives):
    """Django's text-and-HTML email, flattened with ``QUICK_FOLD`` and a boundary drawn up front."""

    def message(self):
        message = super().message()
        message.policy = QUICK_FOLD
        if message.is_multipart():
            boundary = f"=_{secrets.token_hex(12)}"
            texts = [self.body, *(content for content, _ in self.alternatives)]
            # Never in a part (a note may say anything): else the generator draws one as before.
            if not any(boundary in text for text in texts if isinstance(text, str)):
                message.set_boundary(boundary)
        return message
