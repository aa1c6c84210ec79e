"""The egress policy: every spelling of a local address is refused at creation and at connect."""

import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.delivery import egress

LOCAL_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "2130706433",  # integer
    "0x7f000001",  # hex
    "0177.0.0.1",  # octal
    "0x7f.0.0.1",
    "localhost",
    "LOCALHOST.",
    "api.localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
    "[64:ff9b::7f00:1]",  # NAT64
    "[2002:7f00:1::]",  # 6to4
    "0.0.0.0",
    "[::]",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "224.0.0.1",  # multicast
    "[ff02::1]",
    "[fe80::1]",
    "[fc00::1]",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
]


@pytest.mark.parametrize("host", LOCAL_SPELLINGS)
def test_every_local_or_private_spelling_is_refused_at_creation(host, settings):
    settings.OUTBOUND_ALLOW_NETWORKS = ""
    assert egress.destination_problem(f"https://{host}:8443/hook") is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address, settings):
    settings.OUTBOUND_ALLOW_NETWORKS = ""
    assert egress.address_allowed(address)
    host = f"[{address}]" if ":" in address else address
    assert egress.destination_problem(f"https://{host}/hook") is None


def test_the_operator_allow_list_is_the_only_exception(settings):
    settings.OUTBOUND_ALLOW_NETWORKS = "10.0.0.0/24, 127.0.0.0/8"
    assert egress.address_allowed("10.0.0.7")
    assert egress.address_allowed("::ffff:10.0.0.7")  # the same host, mapped
    assert egress.address_allowed("127.0.0.1")
    assert not egress.address_allowed("10.0.1.7")
    assert not egress.address_allowed("::1")  # not listed: IPv6 loopback stays refused
    # networks_only: not even the public internet (for schemes whose host the user picks)
    assert not egress.address_allowed("93.184.216.34", networks_only=True)
    assert egress.address_allowed("10.0.0.7", networks_only=True)


def test_a_bad_allow_list_is_a_clear_error():
    with pytest.raises(ValueError, match="not-a-network"):
        egress.parse_networks("10.0.0.0/8, not-a-network")


def test_a_name_that_does_not_resolve_is_left_to_the_send_time_check(settings):
    settings.OUTBOUND_ALLOW_NETWORKS = ""
    assert egress.destination_problem("https://no-such-host.invalid/hook") is None


def test_the_url_must_have_a_host_and_a_valid_port():
    assert egress.destination_problem("https:///hook") is not None
    assert egress.destination_problem("https://example.com:99999/hook") is not None


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_inside_the_guard_a_connect_to_loopback_is_refused(local_server, settings):
    settings.OUTBOUND_ALLOW_NETWORKS = ""
    with egress.guarded(), pytest.raises(OSError) as caught:
        urllib.request.urlopen(local_server, timeout=2)
    assert isinstance(caught.value.reason, egress.EgressRefused)  # urllib's URLError wraps it
    # outside the guard the same request works: the guard is held only around sends
    assert urllib.request.urlopen(local_server, timeout=2).read() == b"ok"


def test_allowed_networks_reopen_local_delivery(local_server, settings):
    settings.OUTBOUND_ALLOW_NETWORKS = "127.0.0.0/8"
    with egress.guarded():
        assert urllib.request.urlopen(local_server, timeout=2).read() == b"ok"


def test_the_check_is_on_the_address_connected_to_not_the_name(local_server, settings, monkeypatch):
    """DNS rebinding: a name that looked public at creation resolves to loopback at send time."""
    settings.OUTBOUND_ALLOW_NETWORKS = ""
    answers = iter(["93.184.216.34", "127.0.0.1"])
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = local_server.rsplit(":", 1)[1].rstrip("/")
    assert egress.destination_problem(f"http://rebind.example:{port}/") is None  # looked public
    with egress.guarded(), pytest.raises(OSError):
        urllib.request.urlopen(f"http://rebind.example:{port}/", timeout=2)


def test_unix_sockets_are_refused_inside_the_guard(tmp_path):
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    client = socket.socket(socket.AF_UNIX)
    try:
        with egress.guarded(), pytest.raises(egress.EgressRefused):
            client.connect(path)
    finally:
        client.close()
        listener.close()


def test_threads_started_inside_the_guard_are_guarded_too(local_server, settings):
    """Apprise may send from a thread pool: the guard is process-wide while held."""
    settings.OUTBOUND_ALLOW_NETWORKS = ""
    errors = []

    def fetch():
        try:
            urllib.request.urlopen(local_server, timeout=2)
        except OSError as exc:
            errors.append(exc)

    with egress.guarded():
        worker = threading.Thread(target=fetch)
        worker.start()
        worker.join()
    assert len(errors) == 1
