"""Fuzzing sends whatever the schema allows, webhook URLs included: nothing may leave this machine."""

import ipaddress
import socket

import pytest


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
