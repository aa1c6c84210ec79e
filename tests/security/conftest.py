"""Fixtures of the security tests: throttle rates lowered per test, a controllable throttle clock."""

import pytest

from api.throttling import WindowThrottle

# What every scope gets unless a test lowers it (the test settings' rate).
HIGH = "100000/min"
SCOPES = (
    "login_ip",
    "login_account",
    "register_ip",
    "register_account",
    "refresh_ip",
    "refresh_account",
    "alert_create",
    "channel_create",
    "channel_test",
    # Issue 16.
    "login_user",
    "password_change",
    "password_reset_ip",
    "password_reset_account",
    "token_confirm_ip",
    "verify_resend",
    "account_delete",
    "api_key_create",
)


@pytest.fixture
def throttle_rates(settings):
    """``throttle_rates(login_account="3/min")``: those scopes get these rates, the others stay high.

    Assigning REST_FRAMEWORK sends setting_changed, which reloads DRF's api_settings;
    the throttles read their rate from it on every request, so no class keeps a stale one.
    """

    def set_rates(**rates):
        # As in production, the account a login resolves to has the per-account rate.
        rates.setdefault("login_user", rates.get("login_account", HIGH))
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {scope: rates.get(scope, HIGH) for scope in SCOPES},
        }

    return set_rates


class Clock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, 10 s into a minute (and an hour), moved only by the test."""
    fake = Clock(1_800_000_000.0 + 10)
    monkeypatch.setattr(WindowThrottle, "timer", staticmethod(fake))
    return fake
