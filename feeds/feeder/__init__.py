"""The feeder: Binance connections in, per-symbol windows out to the Redis price store."""

from feeds.feeder.connection import Backoff, Connection, Feeder, FeederConfig, RateLimiter

__all__ = ["Backoff", "Connection", "Feeder", "FeederConfig", "RateLimiter"]
