"""The recorded Binance messages in tests/data/binance, read for the tests and the benchmarks.

They live in the repository, so a clone has them: a missing file is an error
(FileNotFoundError fails the test), never a reason to skip it.
"""

import gzip
from pathlib import Path

BINANCE_RECORDINGS = Path(__file__).resolve().parent / "data" / "binance"


def recorded_path(name: str) -> Path:
    return BINANCE_RECORDINGS / name


def recorded_lines(name: str) -> list[str]:
    """The messages of a ``.jsonl`` recording, one a line."""
    return recorded_path(name).read_text().splitlines()


def recorded_bytes(name: str) -> bytes:
    """A recording's bytes as Binance sent them (``.gz`` files are uncompressed)."""
    data = recorded_path(name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data
