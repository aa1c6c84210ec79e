"""What the chaos run expected, what the stack did, and the verdict, from the database and the mailbox.

An email is tied to its notification by the stable Message-ID delivery
(alerts/delivery/messages.py) sets (``<pricealert.notification.<id>@...>``), and through it to its alert.
Two copies of one Message-ID are a resend of the same notification: the
at-least-once window between the SMTP server accepting a message and the
worker recording it (a crash there). Anything else extra (a second
notification for one alert, an email for an alert that should not fire) is
a plain duplicate and a failure.
"""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

MESSAGE_ID = re.compile(r"<pricealert\.notification\.(\d+)@")
SQLITE_LOCK_WAIT = 20.0  # settings.SQLITE_OPTIONS timeout


@dataclass(frozen=True)
class Expectation:
    should_fire: dict[int, tuple[str, str, Decimal]]  # alert id -> (symbol, direction, target)
    should_not_fire: set[int]

    @classmethod
    def from_specs(
        cls, specs: list[dict], ids: list[int], ranges: dict[str, tuple[Decimal, Decimal]]
    ) -> "Expectation":
        """``ranges``: the lowest and highest price the market published per symbol."""
        fire, hold = {}, set()
        for spec, alert_id in zip(specs, ids, strict=True):
            target = Decimal(spec["target_price"])
            bottom, top = ranges[spec["symbol"]]
            crossed = target <= top if spec["direction"] == "above" else target >= bottom
            if crossed:
                fire[alert_id] = (spec["symbol"], spec["direction"], target)
            else:
                hold.add(alert_id)
        return cls(fire, hold)

    @property
    def total(self) -> int:
        return len(self.should_fire)

    def count(self, direction: str, symbols: list[str]) -> int:
        return sum(1 for s, d, _ in self.should_fire.values() if d == direction and s in symbols)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Report:
    alerts: int = 0
    should_fire: int = 0
    fired: int = 0
    fired_wrongly: int = 0
    notified: int = 0
    notifications_failed: int = 0
    notifications_pending: int = 0
    emails_received: int = 0
    other_emails: int = 0  # not alert emails (the registration welcomes)
    missing: int = 0
    duplicates_crash_window: int = 0
    duplicates_other: int = 0
    wrong_state: int = 0
    wrong_recipient: int = 0
    spike_alerts: int = 0  # crossed by one trade just before a Redis restart, never again
    spike_fired: int = 0
    api_mismatches: int = 0
    delays: list[float] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)
    fault_errors: list[str] = field(default_factory=list)
    resends: list[str] = field(default_factory=list)  # same Message-ID received twice: when
    holds: list[str] = field(default_factory=list)  # each extreme: held until all its alerts fired
    problems: list[str] = field(default_factory=list)
    duration: float = 0.0
    size: object = None
    database: str = ""
    logs_dir: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.fault_errors

    def text(self) -> str:
        p50, p99 = percentile(self.delays, 50), percentile(self.delays, 99)
        fmt = lambda v: "n/a" if v is None else f"{v:.2f} s"  # noqa: E731
        lines = [
            f"chaos run: {self.alerts} alerts, database {self.database}, {self.duration:.0f} s of driving",
            f"  should have fired      {self.should_fire}",
            f"  fired                  {self.fired}   (fired but should not: {self.fired_wrongly})",
            f"  notified (sent)        {self.notified}   (failed: {self.notifications_failed}, "
            f"pending: {self.notifications_pending})",
            f"  emails received        {self.emails_received}   (+{self.other_emails} non-alert emails)",
            f"  missing                {self.missing}",
            f"  spike crossings lost with Redis, fired from the feeder's replay: "
            f"{self.spike_fired}/{self.spike_alerts}",
            f"  duplicates             {self.duplicates_other}   "
            f"(+{self.duplicates_crash_window} resends of one notification: crash between SMTP 250 "
            "and the database)",
            f"  wrong final state      {self.wrong_state}   (wrong recipient: {self.wrong_recipient}, "
            f"API disagrees: {self.api_mismatches})",
            f"  crossing trade -> email  p50 {fmt(p50)}, p99 {fmt(p99)}, "
            f"max {fmt(max(self.delays) if self.delays else None)}",
            "  walk extremes held until every crossed alert fired: " + "; ".join(self.holds),
            "  faults:",
            *[f"    t={at:6.1f}s  {what}" for at, what in self.faults],
        ]
        if self.resends:
            lines.append("  resends: " + "; ".join(self.resends))
        if self.fault_errors:
            lines.append("  fault script errors: " + "; ".join(self.fault_errors))
        if self.problems:
            lines.append("  PROBLEMS:")
            lines += [f"    {problem}" for problem in self.problems[:40]]
        lines.append("  verdict: " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)


def collect(stack, expectation: Expectation, market, *, faults, fault_errors, worker_kills, walk_started,
            duration, api, spike_symbols) -> Report:  # fmt: skip
    db = stack.database
    alerts = {
        row[0]: row
        for row in db.query(
            "SELECT a.id, a.status, a.direction, a.target_price, a.triggered_price, u.email, a.symbol "
            "FROM alerts_alert a JOIN accounts_user u ON u.id = a.user_id"
        )
    }
    notifications = db.query("SELECT id, alert_id, status, attempts, " + '"to"' + " FROM alerts_notification")
    report = Report(alerts=len(alerts), should_fire=expectation.total, faults=list(faults))
    report.fault_errors = list(fault_errors)
    report.duration = duration
    problems = report.problems

    by_alert = defaultdict(list)
    notification_alert = {}
    for notification_id, alert_id, status, attempts, to in notifications:
        by_alert[alert_id].append((notification_id, status, attempts, to))
        notification_alert[notification_id] = alert_id
        if status == "failed":
            report.notifications_failed += 1
        elif status == "pending":
            report.notifications_pending += 1

    for alert_id, (_, status, direction, target, triggered_price, email, symbol) in alerts.items():
        fires = alert_id in expectation.should_fire
        if status == "triggered":
            if fires:
                report.fired += 1
            else:
                report.fired_wrongly += 1
                problems.append(f"alert {alert_id} fired but the walk never crossed {direction} {target}")
        right = ("triggered" if fires else "created") == status
        if right and fires:
            price = Decimal(triggered_price)
            right = price >= Decimal(target) if direction == "above" else price <= Decimal(target)
            sent = [n for n in by_alert[alert_id] if n[1] == "sent"]
            right = right and len(by_alert[alert_id]) == 1 and len(sent) == 1
            report.notified += len(sent)
        elif not fires and by_alert[alert_id]:
            right = False
        if not right:
            report.wrong_state += 1
            problems.append(
                f"alert {alert_id} {symbol} {direction} {target}: status {status}, price {triggered_price}, "
                f"notifications {by_alert[alert_id]}"
            )
        for _, _, _, to in by_alert[alert_id]:
            if to != email:
                report.wrong_recipient += 1
                problems.append(f"alert {alert_id}'s notification goes to {to}, its owner is {email}")
        if alert_id in api and api[alert_id] != status:
            report.api_mismatches += 1
            problems.append(f"alert {alert_id}: the API says {api[alert_id]}, the database {status}")

    copies = Counter()
    first_at: dict[int, float] = {}
    for received in stack.mail.received:
        match = MESSAGE_ID.match(str(received.message["Message-ID"] or ""))
        if not match:
            report.other_emails += 1
            continue
        report.emails_received += 1
        notification_id = int(match.group(1))
        copies[notification_id] += 1
        first_at.setdefault(notification_id, received.at)
        alert_id = notification_alert.get(notification_id)
        if alert_id is None or alert_id not in expectation.should_fire:
            report.duplicates_other += 1
            problems.append(f"an email for notification {notification_id} (alert {alert_id}) nobody expected")
        elif received.rcpt_tos != [alerts[alert_id][5]]:
            report.wrong_recipient += 1
            problems.append(f"alert {alert_id}'s email went to {received.rcpt_tos}")

    arrivals = defaultdict(list)
    for received in stack.mail.received:
        match = MESSAGE_ID.match(str(received.message["Message-ID"] or ""))
        if match:
            arrivals[int(match.group(1))].append(round(received.at - walk_started, 2))
    for notification_id, count in copies.items():
        if count < 2:
            continue
        first = arrivals[notification_id][0]
        # The first copy was accepted just before a worker died (SQLite may hold the "sent" mark
        # back for its lock timeout): the crash window. Any other resend is a plain duplicate.
        if any(kill - SQLITE_LOCK_WAIT <= first <= kill + 1.5 for kill in worker_kills):
            report.duplicates_crash_window += count - 1
            report.resends.append(f"notification {notification_id} at t={arrivals[notification_id]} s")
        else:
            report.duplicates_other += count - 1
            problems.append(
                f"notification {notification_id} sent {count} times, at t={arrivals[notification_id]} s"
            )
    # A second copy is only excusable next to a worker crash; more resends than crashes is a bug.
    if report.duplicates_crash_window > 2 * len(worker_kills):
        problems.append(
            f"{report.duplicates_crash_window} resends of already-accepted emails, "
            f"more than {len(worker_kills)} worker crashes can explain"
        )

    for alert_id, (symbol, direction, target) in expectation.should_fire.items():
        notifications_of_alert = [n for n, *_ in by_alert[alert_id]]
        emailed = [n for n in notifications_of_alert if n in copies]
        if not emailed:
            report.missing += 1
            problems.append(f"alert {alert_id} {symbol} {direction} {target}: no email")
            continue
        if len(emailed) > 1:
            report.duplicates_other += len(emailed) - 1
            problems.append(f"alert {alert_id}: emails from {len(emailed)} different notifications")
        crossed = market.first_crossing(symbol, direction, target)
        if crossed is not None:
            report.delays.append(first_at[emailed[0]] - crossed)

    for alert_id, (symbol, _, _) in expectation.should_fire.items():
        if symbol in spike_symbols:
            report.spike_alerts += 1
            report.spike_fired += alerts[alert_id][1] == "triggered"

    if report.missing:
        problems.insert(0, f"{report.missing} alerts that should have fired were never emailed")
    return report
