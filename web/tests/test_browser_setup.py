"""Without Chromium the browser tests fail, saying what to install: they never skip silently."""

import pytest

from web.tests.browser import browser


def test_a_missing_browser_fails_with_what_to_install(monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception) as failure:
        browser.start_chromium()
    message = str(failure.value)
    assert "/nonexistent/chromium" in message and "apt-get install chromium chromium-driver" in message
