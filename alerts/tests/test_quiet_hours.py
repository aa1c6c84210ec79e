"""Quiet hours as wall-clock time in the owner's zone: boundaries, midnight, and both DST changes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts.delivery.quiet import check_time_zone, check_window, effective_window, quiet_until

SECOND = timedelta(seconds=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestBoundaries:
    def test_start_is_included_end_is_excluded(self):
        # Europe/Berlin in January is UTC+1: 23:00 local is 22:00 UTC, 07:00 local is 06:00 UTC.
        start, end = utc(2026, 1, 14, 22, 0), utc(2026, 1, 15, 6, 0)
        assert quiet_until("23:00-07:00", "Europe/Berlin", start - SECOND) is None
        assert quiet_until("23:00-07:00", "Europe/Berlin", start) == end
        assert quiet_until("23:00-07:00", "Europe/Berlin", start + SECOND) == end
        assert quiet_until("23:00-07:00", "Europe/Berlin", end - SECOND) == end
        assert quiet_until("23:00-07:00", "Europe/Berlin", end) is None

    def test_after_midnight_ends_the_same_morning(self):
        assert quiet_until("23:00-07:00", "Europe/Berlin", utc(2026, 1, 15, 2, 30)) == utc(2026, 1, 15, 6, 0)

    def test_a_window_within_one_day(self):
        assert quiet_until("09:00-17:00", "UTC", utc(2026, 5, 1, 8, 59, 59)) is None
        assert quiet_until("09:00-17:00", "UTC", utc(2026, 5, 1, 9, 0)) == utc(2026, 5, 1, 17, 0)
        assert quiet_until("09:00-17:00", "UTC", utc(2026, 5, 1, 17, 0)) is None

    def test_the_zone_moves_the_window(self):
        now = utc(2026, 1, 15, 4, 0)  # 05:00 in Berlin (quiet), 23:00 the day before in New York (quiet)
        assert quiet_until("23:00-07:00", "Europe/Berlin", now) == utc(2026, 1, 15, 6, 0)
        assert quiet_until("23:00-07:00", "America/New_York", now) == utc(2026, 1, 15, 12, 0)
        assert quiet_until("23:00-07:00", "Asia/Tokyo", now) is None  # 13:00 in Tokyo

    def test_no_window_is_never_quiet(self):
        assert quiet_until("", "Europe/Berlin", utc(2026, 1, 15, 2, 0)) is None


class TestAcrossDaylightSavingTime:
    def test_spring_forward_night_is_an_hour_shorter(self):
        # Berlin, 29 March 2026: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 23:00 CET = 22:00 UTC,
        # 07:00 CEST = 05:00 UTC: seven hours of wall clock, six of real time.
        start = utc(2026, 3, 28, 22, 0)
        assert quiet_until("23:00-07:00", "Europe/Berlin", start - SECOND) is None
        assert quiet_until("23:00-07:00", "Europe/Berlin", start) == utc(2026, 3, 29, 5, 0)
        assert quiet_until("23:00-07:00", "Europe/Berlin", utc(2026, 3, 29, 4, 59, 59)) == utc(2026, 3, 29, 5)
        assert quiet_until("23:00-07:00", "Europe/Berlin", utc(2026, 3, 29, 5, 0)) is None

    def test_fall_back_night_is_an_hour_longer(self):
        # Berlin, 25 October 2026: 03:00 CEST goes back to 02:00 CET (01:00 UTC). 23:00 CEST = 21:00 UTC,
        # 07:00 CET = 06:00 UTC: nine hours of real time.
        assert quiet_until("23:00-07:00", "Europe/Berlin", utc(2026, 10, 24, 21, 0)) == utc(
            2026, 10, 25, 6, 0
        )
        assert quiet_until("23:00-07:00", "Europe/Berlin", utc(2026, 10, 25, 5, 59, 59)) == utc(
            2026, 10, 25, 6
        )
        assert quiet_until("23:00-07:00", "Europe/Berlin", utc(2026, 10, 25, 6, 0)) is None

    def test_an_end_the_clocks_skip_ends_at_the_jump(self):
        # 02:30 does not exist in Berlin on 29 March 2026: quiet hours end when the clock jumps (01:00 UTC).
        assert quiet_until("22:00-02:30", "Europe/Berlin", utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 1, 0)
        assert quiet_until("22:00-02:30", "Europe/Berlin", utc(2026, 3, 29, 1, 0)) is None  # 03:00 CEST

    def test_an_end_that_happens_twice_ends_at_its_next_occurrence(self):
        # 02:30 happens twice in Berlin on 25 October 2026: at 00:30 UTC (CEST) and at 01:30 UTC (CET).
        first_pass = utc(2026, 10, 25, 0, 15)  # 02:15 CEST
        second_pass = utc(2026, 10, 25, 1, 15)  # 02:15 CET, the repeated hour
        assert quiet_until("01:00-02:30", "Europe/Berlin", first_pass) == utc(2026, 10, 25, 0, 30)
        assert quiet_until("01:00-02:30", "Europe/Berlin", second_pass) == utc(2026, 10, 25, 1, 30)

    def test_new_york_spring_forward(self):
        # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT (07:00 UTC). 07:00 EDT = 11:00 UTC.
        assert quiet_until("22:00-07:00", "America/New_York", utc(2026, 3, 8, 3, 0)) == utc(2026, 3, 8, 11, 0)


class TestChecks:
    @pytest.mark.parametrize("text", ["23:00-07:00", "00:00-23:59", "09:30-09:31"])
    def test_good_windows(self, text):
        assert check_window(text) == text

    @pytest.mark.parametrize("text", ["23:00", "24:00-07:00", "7:00-8:00", "10:00-10:00", "23:00-07:60", "x"])
    def test_bad_windows_say_the_format(self, text):
        with pytest.raises(ValidationError) as caught:
            check_window(text)
        assert "HH:MM-HH:MM" in caught.value.message_dict["quiet_hours"][0]

    def test_off_is_for_channels_only(self):
        assert check_window("off", allow_off=True) == "off"
        with pytest.raises(ValidationError):
            check_window("off")

    @pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
    def test_iana_zones(self, name):
        assert check_time_zone(name) == name

    @pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "CEST"])
    def test_unknown_zones(self, name):
        with pytest.raises(ValidationError) as caught:
            check_time_zone(name)
        assert "time zone" in caught.value.message_dict["time_zone"][0]

    def test_a_channel_keeps_its_own_window_none_or_the_accounts(self):
        assert effective_window("", "23:00-07:00") == "23:00-07:00"
        assert effective_window("off", "23:00-07:00") == ""
        assert effective_window("12:00-13:00", "23:00-07:00") == "12:00-13:00"
