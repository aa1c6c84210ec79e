"""Fuzzing runs requests through Django's real WSGI handler, inside the test's transaction, offline.

Two things the test client does for its own requests have to be done here for
the handler's: keep the database connection (and so the test's transaction)
open across requests, and, since the fuzzer sends whatever the schema allows,
webhook URLs included, keep every connection on this machine.
"""

import ipaddress
import socket

import pytest
from django.core import signals
from django.db import close_old_connections


@pytest.fixture(autouse=True)
def keep_the_test_transaction():
    """The handler closes "old" connections around each request; inside a test that is the transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _is_local(host) -> bool:
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_outbound_network(monkeypatch):
    """Resolving any name but localhost or a loopback address fails, as it would offline."""
    real_getaddrinfo = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if not _is_local(host):
            raise socket.gaierror(socket.EAI_NONAME, f"fuzzing stays on this machine (asked for {host!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
