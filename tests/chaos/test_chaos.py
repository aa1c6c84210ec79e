"""The short chaos run in CI: a few hundred alerts through every fault, none missing, none sent twice.

One run (starting the processes is the slow part); every assertion reads its report.
"""

import shutil

import pytest
from django.conf import settings

from tests.chaos.runner import SIZES, ChaosRun

pytestmark = [pytest.mark.chaos, pytest.mark.e2e, pytest.mark.slow]


def database_name() -> str:
    return f"{settings.DATABASES['default'].get('TEST', {}).get('NAME') or 'test_pricealert'}_chaos"


@pytest.fixture(scope="module")
def report():
    result = ChaosRun(SIZES["short"], db_name=database_name(), log=lambda line: None).run()
    print(result.text())
    yield result
    if result.ok:
        shutil.rmtree(result.logs_dir, ignore_errors=True)


def explain(report) -> str:
    return f"\n{report.text()}\nprocess logs: {report.logs_dir}"


def test_every_fault_was_injected(report):
    injected = " | ".join(what for _, what in report.faults)
    assert not report.fault_errors, explain(report)
    for fault in ("SIGKILL celery worker", "SIGKILL Redis", "drop every Binance", "serverShutdown",
                  "SMTP refuses", "SMTP accepts again"):  # fmt: skip
        assert fault in injected, explain(report)
    if report.database.startswith("PostgreSQL"):
        assert "database stalled" in injected and "database cut" in injected, explain(report)


def test_every_alert_that_should_fire_was_emailed_once(report):
    assert report.should_fire > 200, explain(report)
    assert report.fired == report.should_fire, explain(report)
    assert report.notified == report.should_fire, explain(report)
    assert report.missing == 0, explain(report)
    assert report.duplicates_other == 0, explain(report)


def test_every_alert_ends_in_the_right_state(report):
    assert report.fired_wrongly == 0, explain(report)
    assert report.wrong_state == 0, explain(report)
    assert report.wrong_recipient == 0, explain(report)
    assert report.api_mismatches == 0, explain(report)
    assert report.notifications_pending == 0 and report.notifications_failed == 0, explain(report)
    assert report.ok, explain(report)
