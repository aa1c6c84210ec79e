"""A throwaway database for a benchmark: a temporary SQLite file, or a fresh
PostgreSQL database on the server DATABASE_URL names. Points DATABASE_URL at it
before Django is set up."""

import os
import tempfile
from collections.abc import Callable
from urllib.parse import urlparse, urlunparse


def scratch_database(name: str) -> tuple[str, Callable[[], None]]:
    """Point DATABASE_URL at a fresh database; return a description and a cleanup function."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        handle, path = tempfile.mkstemp(suffix=".sqlite3")
        os.close(handle)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        return "SQLite (temporary file)", lambda: os.unlink(path)
    import psycopg

    parsed = urlparse(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{name}"))

    def drop():
        from django.db import connections

        connections.close_all()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")

    return f"PostgreSQL ({parsed.hostname})", drop
