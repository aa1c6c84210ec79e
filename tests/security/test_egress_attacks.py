"""The egress attacks of an ordinary account, tried through the API and through real sends.

Each was possible before the egress policy: a webhook or Apprise URL into the
host's own network (Redis, an internal SMTP server, cloud metadata), a
redirect to one, an Apprise scheme that relays mail or speaks IRC into Redis,
CR/LF smuggled into a line protocol.
"""

import socket
import threading
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts import engine
from alerts.delivery import send
from alerts.models import Alert, Channel, Notification
from feeds.store import ms_to_datetime, redis_client
from feeds.windows import PriceWindow

pytestmark = pytest.mark.django_db
T0 = 1_790_000_000_000

LOOPBACK_WEBHOOKS = [
    "http://127.0.0.1:6379/",
    "http://localhost:8000/admin/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]:6379/",
    "http://2130706433:6379/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0.0.0.0:8000/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.0.1/",
    "http://[fd00::1]/",
    "http://100.64.0.1/",
]
REFUSED_APPRISE = [
    "json://127.0.0.1:6379/",
    "jsons://internal.example.com/hook",
    "xml://127.0.0.1:8000/",
    "form://127.0.0.1:8000/",
    "forms://example.com/",
    "irc://127.0.0.1:6379/#c",
    "mailto://user:pass@gmail.com?to=victim@example.com",
    "mailtos://user:pass@smtp.example.com?to=victim@example.com&from=ceo@bank.example",
    "syslog://127.0.0.1",
    "rsyslog://127.0.0.1",
    "apprise://127.0.0.1/key",
    "apprises://example.com/key",
]


@pytest.fixture(autouse=True)
def no_allowed_networks(settings):
    settings.OUTBOUND_ALLOW_NETWORKS = ""


@pytest.mark.parametrize("url", LOOPBACK_WEBHOOKS)
def test_a_webhook_into_the_hosts_network_is_refused_at_creation(alice_client, url):
    response = alice_client.post("/channels/", {"kind": "webhook", "url": url}, format="json")
    assert response.status_code == 400, url
    assert "url" in response.json()["errors"]
    assert not Channel.objects.filter(kind="webhook").exists()


@pytest.mark.parametrize("url", REFUSED_APPRISE)
def test_an_apprise_scheme_whose_host_the_user_picks_is_refused(alice_client, url):
    response = alice_client.post("/channels/", {"kind": "apprise", "url": url}, format="json")
    assert response.status_code == 400, url
    assert not Channel.objects.filter(kind="apprise").exists()


def test_a_user_picked_host_is_accepted_inside_the_operators_networks_only(alice_client, settings):
    settings.OUTBOUND_ALLOW_NETWORKS = "127.0.0.0/8"
    ok = alice_client.post("/channels/", {"kind": "apprise", "url": "json://127.0.0.1:8080/"}, format="json")
    assert ok.status_code == 201
    public = alice_client.post("/channels/", {"kind": "apprise", "url": "json://1.1.1.1/"}, format="json")
    assert public.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "irc://127.0.0.1:6379/#c?name=x%0D%0ASET%20planted%20yes",
        "tgram://123456789:token/12345?x=%0d%0aQUIT",
        "tgram://123456789:token/12345\r\nQUIT",
        "tgram://123456789:token/12345?x=%00",
        "tgram://123456789:token/12345?x=%250D%250A",  # encoded twice
    ],
)
def test_control_characters_in_a_url_are_a_400_encoded_or_not(alice_client, url):
    response = alice_client.post("/channels/", {"kind": "apprise", "url": url}, format="json")
    assert response.status_code == 400
    assert "control characters" in response.json()["errors"]["url"][0]


def test_a_host_fixed_apprise_service_is_accepted(alice_client):
    response = alice_client.post(
        "/channels/",
        {"kind": "apprise", "url": "tgram://123456789:abcdefg_hijklmnop/12315544/"},
        format="json",
    )
    assert response.status_code == 201


def _fire_through(channel) -> Notification:
    alert = Alert.objects.create(
        user=channel.user,
        symbol="BTCUSDT",
        direction="above",
        target_price=Decimal("70000"),
        armed_at=ms_to_datetime(T0 - 60_000),
    )
    alert.channels.set([channel])
    price = Decimal("70001")
    engine.evaluate_windows([PriceWindow("BTCUSDT", price, price, price, T0, T0)])
    return Notification.objects.get(alert=alert)


def assert_refused_at_send(channel, error: str) -> None:
    """Fired through this channel, the send fails with ``error`` and the internal service saw nothing."""
    notification = _fire_through(channel)
    assert send.deliver(notification.pk, 0).outcome == "failed"
    notification.refresh_from_db()
    assert notification.last_error == error
    assert _Recording.hits == []


class _Recording(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):
        _Recording.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass


@contextmanager
def serving(handler):
    """A real HTTP server on 127.0.0.1 with this handler; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def internal_service():
    """Something on the host's own network a user must never reach."""
    _Recording.hits = []
    with serving(_Recording) as port:
        yield port


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"])
def test_a_stored_loopback_webhook_is_refused_at_send(alice, internal_service, host):
    """A channel stored before the policy (or by the admin) never reaches the host either."""
    hook = Channel.objects.create(
        user=alice, kind="webhook", url=f"http://{host}:{internal_service}/x", secret="s" * 64
    )
    assert_refused_at_send(hook, "destination not allowed")


def test_a_name_that_turns_private_after_creation_is_refused_at_send(alice, internal_service, monkeypatch):
    """DNS rebinding: the address checked is the address connected to."""
    hook = Channel.objects.create(
        user=alice, kind="webhook", url=f"http://rebound.example:{internal_service}/x", secret="s" * 64
    )
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "rebound.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    notification = _fire_through(hook)
    assert send.deliver(notification.pk, 0).outcome == "failed"
    assert _Recording.hits == []


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self):
        self.send_response(302)
        self.send_header("Location", _Redirect.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def redirector(internal_service):
    """A server the operator allows (127.0.0.1) that redirects to one it does not (127.0.0.2)."""
    _Redirect.target = f"http://127.0.0.2:{internal_service}/internal"
    with serving(_Redirect) as port:
        yield port


def test_a_webhook_redirect_is_never_followed(alice, redirector, settings):
    settings.OUTBOUND_ALLOW_NETWORKS = "127.0.0.0/8"
    hook = Channel.objects.create(
        user=alice, kind="webhook", url=f"http://127.0.0.1:{redirector}/in", secret="s" * 64
    )
    assert_refused_at_send(hook, "HTTP 302")


def test_each_redirect_hop_apprise_follows_is_checked_again(alice, redirector, settings):
    settings.OUTBOUND_ALLOW_NETWORKS = "127.0.0.1/32"  # the redirector only, not 127.0.0.2
    channel = Channel.objects.create(user=alice, kind="apprise", url=f"json://127.0.0.1:{redirector}/in")
    assert_refused_at_send(channel, "destination not allowed")


def test_the_irc_into_redis_chain_writes_nothing(alice, settings):
    """The original attack: IRC commands, CR/LF in ``name``, into the app's own Redis."""
    redis = redis_client()
    host, port = (
        redis.connection_pool.connection_kwargs["host"],
        redis.connection_pool.connection_kwargs["port"],
    )
    url = f"irc://{host}:{port}/#c?name=x%0D%0ASET%20planted%20yes%0D%0A"
    channel = Channel.objects.create(user=alice, kind="apprise", url=url)  # as if stored before the policy
    notification = _fire_through(channel)
    assert send.deliver(notification.pk, 0).outcome == "failed"
    for db in range(16):
        other = redis_client().__class__(host=host, port=port, db=db)
        try:
            assert other.get("planted") is None
        finally:
            other.close()
