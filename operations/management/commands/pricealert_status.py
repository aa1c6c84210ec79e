"""`manage.py pricealert_status`: the deployment's health for an operator's terminal.

Prints the database and Redis reachability, the feeder's heartbeats and the
price stream's last flush, the evaluator's last run, waiting alerts and the
notification outbox. Exits 1 when the database or Redis does not answer, so
scripts and container healthchecks can use it; `--json` for machines.
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from operations.status import Status, collect_status


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def row(label: str, text: str) -> str:
    return f"{label:<15} {text}"


class Command(BaseCommand):
    help = "Print the health of the database, Redis, the feed, the evaluator and the notification outbox."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    def handle(self, *args, **options):
        status = collect_status()
        if options["json"]:
            self.stdout.write(json.dumps(status.as_dict(), default=str, sort_keys=True))
        else:
            self.stdout.write("\n".join(self.connection_lines(status) + self.feed_lines(status)))
            self.stdout.write("\n".join(self.alert_lines(status)))
        if not status.healthy:
            parts = (("database", status.database_ok), ("Redis", status.redis_ok))
            down = [name for name, up in parts if not up]
            raise CommandError(f"{' and '.join(down)} unavailable", returncode=1)

    def connection_lines(self, status: Status) -> list[str]:
        ok, bad = self.style.SUCCESS, self.style.ERROR
        lines = [f"pricealert status at {status.checked_at:%Y-%m-%d %H:%M:%S} UTC"]
        if status.database_ok:
            lines.append(row("database", f"{ok('ok')} ({status.database_vendor})"))
        else:
            lines.append(row("database", f"{bad('DOWN')} {status.database_error}"))
        if status.unapplied_migrations:
            pending = bad(str(status.unapplied_migrations))
            lines.append(row("migrations", f"{pending} not applied: run `manage.py migrate`"))
        if status.redis_ok:
            lines.append(row("redis", ok("ok")))
        else:
            lines.append(row("redis", f"{bad('DOWN')} {status.redis_error}"))
        return lines

    def feed_lines(self, status: Status) -> list[str]:
        ok, bad = self.style.SUCCESS, self.style.ERROR
        if not status.redis_ok:
            return [row("feed", "unknown (Redis unavailable)")]
        lines = []
        if not status.heartbeats:
            lines.append(row("feed", f"{bad('no heartbeat')}: is the feeder (manage.py runfeeder) running?"))
        for beat in status.heartbeats:
            state = bad("STALE") if beat.stale else ok("ok")
            age = seconds(beat.age_seconds)
            lines.append(row("feed", f"{state} {beat.connection}: last message {age} ago"))
        flush = seconds(status.last_flush_age_seconds)
        lines.append(row("price stream", f"{status.stream_entries} entries, last flush {flush} ago"))
        for evaluator, loss in sorted(status.stream_losses.items()):
            lines.append(row("price stream", f"{bad('LOST ENTRIES')} evaluator {evaluator}: {loss}"))
        return lines

    def alert_lines(self, status: Status) -> list[str]:
        bad = self.style.ERROR
        if not status.database_ok:
            return [row("evaluation", "unknown (database unavailable)")]
        if status.data_error:
            return [row("alert data", f"{bad('unreadable')} {status.data_error}")]
        lines = []
        if not status.checkpoints:
            lines.append(row("evaluation", "never ran: are the celery worker and beat running?"))
        for checkpoint in status.checkpoints:
            when = "never ran"
            if checkpoint.evaluated_at:
                when = f"last run {seconds(checkpoint.age_seconds)} ago"
            lines.append(row("evaluation", f"{checkpoint.name}: {when} (stream id {checkpoint.stream_id})"))
        if status.evaluation_lag_seconds is not None:
            lag = seconds(status.evaluation_lag_seconds)
            lines.append(
                row("evaluation lag", f"{lag} behind the newest price (stream id {status.newest_stream_id})")
            )
        lines.append(row("alerts", f"{status.waiting_alerts} waiting on {status.waiting_symbols} symbols"))
        oldest = seconds(status.oldest_pending_age_seconds)
        lines.append(
            row(
                "notifications",
                f"{status.pending_notifications} pending (oldest {oldest}, "
                f"{status.sending_notifications} being sent), {status.failed_notifications} failed",
            )
        )
        lines.append(f"(a feed is stale after FEED_STALE_SECONDS={settings.FEED_STALE_SECONDS:g} s)")
        return lines
