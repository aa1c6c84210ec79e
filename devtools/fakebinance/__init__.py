"""A faithful fake of Binance's spot WebSocket market streams, for tests, benchmarks and demos."""

from devtools.fakebinance.server import FakeBinance

__all__ = ["FakeBinance"]
