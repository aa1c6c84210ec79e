"""manage.py syncsymbols against a local HTTP server serving real exchangeInfo responses."""

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from feeds.catalogue import read_snapshot
from feeds.models import Symbol
from tests.recordings import recorded_bytes

PROJECT_DIR = Path(__file__).resolve().parents[2]
INFO_2024 = recorded_bytes("exchangeInfo-2024-09-08.json.gz")
INFO_2021 = recorded_bytes("exchangeInfo.json")  # 5 symbols; BCCBTC in BREAK


class FakeRestApi:
    """GET /api/v3/exchangeInfo answers with ``body`` and ``status``; records the paths asked for."""

    def __init__(self):
        self.body = b""
        self.status = 200
        self.headers: dict[str, str] = {}
        self.paths: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                api.paths.append(self.path)
                if self.path != "/api/v3/exchangeInfo":
                    self.send_error(404)
                    return
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                for name, value in api.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(api.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def serve(self, body: bytes, *, status: int = 200, headers=None):
        self.body = body
        self.status = status
        self.headers = headers or {}


@pytest.fixture
def rest_api(settings):
    api = FakeRestApi()
    api.thread.start()
    settings.BINANCE_REST_URL = api.url
    yield api
    api.server.shutdown()
    api.server.server_close()


def sync(*args) -> str:
    out = StringIO()
    call_command("syncsymbols", *args, stdout=out)
    return out.getvalue()


def statuses() -> dict[str, str]:
    return dict(Symbol.objects.values_list("symbol", "status"))


@pytest.mark.django_db
def test_the_bundled_catalogue_matches_the_2024_response(rest_api):
    rest_api.serve(INFO_2024)
    before = {s.symbol: (s.status, s.tick_size, s.min_price, s.max_price) for s in Symbol.objects.all()}
    output = sync()
    assert rest_api.paths == ["/api/v3/exchangeInfo"]
    assert "1248 spot symbols, 1248 TRADING" in output
    assert "0 added, 0 updated, 0 no longer listed" in output
    assert {
        s.symbol: (s.status, s.tick_size, s.min_price, s.max_price) for s in Symbol.objects.all()
    } == before


@pytest.mark.django_db
def test_an_older_listing_marks_missing_symbols_delisted_and_adds_new_ones(rest_api):
    rest_api.serve(INFO_2021)
    output = sync()
    after = statuses()
    assert after["BTCUSDT"] == after["ETHBTC"] == after["BNBBTC"] == "TRADING"
    assert after["BCCBTC"] == "BREAK"
    assert after["SOLUSDT"] == Symbol.DELISTED  # listed in 2024, absent from this response
    assert Symbol.objects.filter(status=Symbol.TRADING).count() == 4
    btc = Symbol.objects.get(symbol="BTCUSDT")
    assert (btc.base_asset, btc.quote_asset, str(btc.tick_size)) == ("BTC", "USDT", "0.01000000")
    assert "1 added" in output and "now DELISTED" in output
    assert "4 of 1249 symbols TRADING" in output

    rest_api.serve(INFO_2024)
    output = sync()
    after = statuses()
    assert after["SOLUSDT"] == "TRADING"
    assert after["BCCBTC"] == Symbol.DELISTED
    assert "Trading again (1244)" in output


@pytest.mark.django_db
def test_a_symbol_that_stops_trading_is_reported_and_its_alerts_stay(rest_api, alice, make_alert):
    alert = make_alert(alice, symbol="ETHBTC", target_price="0.05")
    listing = json.loads(INFO_2021)
    next(s for s in listing["symbols"] if s["symbol"] == "ETHBTC")["status"] = "HALT"
    rest_api.serve(json.dumps(listing).encode())
    output = sync()
    assert Symbol.objects.get(symbol="ETHBTC").status == "HALT"
    assert "ETHBTC (HALT)" in output and "their waiting alerts stay" in output
    alert.refresh_from_db()
    assert alert.status == "created"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ({"body": b"<html>busy</html>", "status": 500}, "answered HTTP 500"),
        ({"body": b"{}", "status": 429, "headers": {"Retry-After": "30"}}, "retry after 30s"),
        ({"body": b"<html>not json</html>"}, "did not return JSON"),
        ({"body": b'{"symbols": "nope"}'}, "did not return an exchangeInfo object"),
        ({"body": b'{"symbols": []}'}, "listed no spot symbols"),
        ({"body": b'{"symbols": [{"symbol": "BTCUSDT"}]}'}, "unexpected symbol entry"),
    ],
)
def test_bad_answers_leave_the_catalogue_untouched(rest_api, serve, message):
    before = statuses()
    rest_api.serve(**serve)
    with pytest.raises(CommandError, match=message):
        sync()
    assert statuses() == before


@pytest.mark.django_db
def test_an_unreachable_host_is_a_clear_error(settings):
    settings.BINANCE_REST_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    before = statuses()
    with pytest.raises(CommandError, match=re.escape("cannot reach http://127.0.0.1:9/api/v3/exchangeInfo")):
        sync("--timeout", "5")
    assert statuses() == before


@pytest.mark.django_db
def test_snapshot_option_writes_a_snapshot_the_migration_can_load(rest_api, tmp_path):
    rest_api.serve(INFO_2021)
    path = tmp_path / "symbols.json"
    output = sync("--snapshot", str(path))
    assert f"Wrote the snapshot of 5 symbols to {path}" in output
    snapshot = {s.symbol: s for s in read_snapshot(path)}
    assert set(snapshot) == {"BTCUSDT", "ETHUSDT", "ETHBTC", "BNBBTC", "BCCBTC"}
    assert snapshot["BCCBTC"].status == "BREAK"
    assert str(snapshot["ETHBTC"].tick_size) == "0.00000100"


def test_the_command_exits_non_zero_on_a_network_error(tmp_path):
    env_db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "manage.py", "syncsymbols", "--url", "http://127.0.0.1:9/api/v3/exchangeInfo"],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "pricealert.test_settings",
            "DATABASE_URL": env_db,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9/api/v3/exchangeInfo" in result.stderr
