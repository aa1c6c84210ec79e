"""Symbol sources for tests, named in FEEDER_SYMBOLS_SOURCE instead of the alerts selector."""

import os
from pathlib import Path

CURRENT: set[str] = set()
FAILING = False


def current() -> set[str]:
    """The module's CURRENT set (in-process tests change it); raises while FAILING is true."""
    if FAILING:
        raise RuntimeError("symbol source unavailable")
    return set(CURRENT)


def from_file() -> set[str]:
    """Whitespace-separated symbols in the file named by FEEDER_TEST_SYMBOLS_FILE (subprocess tests)."""
    return set(Path(os.environ["FEEDER_TEST_SYMBOLS_FILE"]).read_text().split())
