"""Login, register and token refresh are throttled per client address and per account: 429 + Retry-After."""

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.throttling import LoginAddressThrottle
from conftest import PASSWORD
from pricealert import env_values
from tests.test_deploy_settings import container_env, django_run, settings_value

pytestmark = pytest.mark.django_db

THROTTLED = "Too many attempts; please wait before trying again."


def login(client, login_name, password="wrong password", **extra):
    return client.post("/token", {"email": login_name, "password": password}, format="json", **extra)


def assert_throttled(response, *, retry_after: int):
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == str(retry_after)
    assert response.json() == {"detail": f"{THROTTLED} Expected available in {retry_after} seconds."}


class TestLogin:
    def test_per_account_the_next_attempt_is_a_429_with_retry_after(
        self, anon_client, alice, throttle_rates, clock
    ):
        throttle_rates(login_account="3/min")
        for _ in range(3):
            assert login(anon_client, "alice@example.com").status_code == 401

        # Even the right password: the limit is on attempts, so guessing gains nothing.
        response = login(anon_client, "alice@example.com", PASSWORD)

        assert_throttled(response, retry_after=50)  # the clock is 10 s into the minute

    def test_per_account_counts_the_login_in_any_case_and_from_any_address(
        self, alice, throttle_rates, clock
    ):
        throttle_rates(login_account="3/min")
        for address, spelling in [("10.0.0.1", "alice@example.com"), ("10.0.0.2", "ALICE@Example.com")]:
            login(APIClient(), spelling, REMOTE_ADDR=address)
        login(APIClient(), " Alice@example.com ", REMOTE_ADDR="10.0.0.3")

        assert login(APIClient(), "alice@EXAMPLE.com", PASSWORD, REMOTE_ADDR="10.0.0.4").status_code == 429

    def test_other_accounts_on_the_same_address_are_not_held_back(
        self, anon_client, alice, bob, throttle_rates
    ):
        throttle_rates(login_account="2/min")
        for _ in range(3):
            login(anon_client, "alice@example.com")

        assert login(anon_client, "bob@example.com", PASSWORD).status_code == 200

    def test_a_username_login_is_counted_by_the_username(self, anon_client, alice, throttle_rates):
        throttle_rates(login_account="2/min")
        for _ in range(2):
            anon_client.post("/login", {"username": "alice", "password": "nope"}, format="json")
        response = anon_client.post("/login", {"username": "ALICE", "password": PASSWORD}, format="json")
        assert response.status_code == 429

    def test_an_unknown_account_is_throttled_exactly_like_a_real_one(self, alice, throttle_rates, clock):
        """The throttle must not become an oracle for which accounts exist."""
        throttle_rates(login_account="2/min")
        answers = {}
        for name in ("alice@example.com", "nobody@example.com"):
            client = APIClient()
            answers[name] = [
                (r.status_code, r.json(), r.get("Retry-After"))
                for r in (login(client, name) for _ in range(3))
            ]
        assert answers["alice@example.com"] == answers["nobody@example.com"]
        assert [status for status, _, _ in answers["nobody@example.com"]] == [401, 401, 429]

    def test_per_address_across_accounts(self, alice, bob, throttle_rates, clock):
        throttle_rates(login_ip="3/min")
        attacker = APIClient(REMOTE_ADDR="203.0.113.7")
        for name in ("alice@example.com", "bob@example.com", "carol@example.com"):
            assert login(attacker, name).status_code == 401

        assert_throttled(login(attacker, "dave@example.com"), retry_after=50)
        # Somebody else, from another address, logs in as usual.
        assert login(APIClient(REMOTE_ADDR="198.51.100.1"), "alice@example.com", PASSWORD).status_code == 200

    def test_the_window_ends_when_retry_after_says(self, anon_client, alice, throttle_rates, clock):
        throttle_rates(login_account="2/min")
        for _ in range(2):
            login(anon_client, "alice@example.com")
        response = login(anon_client, "alice@example.com", PASSWORD)
        assert response.status_code == 429

        clock.advance(int(response["Retry-After"]) - 1)
        assert login(anon_client, "alice@example.com", PASSWORD).status_code == 429
        clock.advance(1)
        assert login(anon_client, "alice@example.com", PASSWORD).status_code == 200

    def test_other_methods_are_a_405_and_spend_nothing(self, anon_client, alice, throttle_rates):
        throttle_rates(login_ip="1/min")
        for method in ("get", "put", "patch", "delete"):
            assert getattr(anon_client, method)("/token").status_code == 405
        assert login(anon_client, "alice@example.com", PASSWORD).status_code == 200
        assert login(anon_client, "alice@example.com", PASSWORD).status_code == 429

    def test_the_429_is_documented_with_its_retry_after_header(self, anon_client):
        schema = anon_client.get("/api/schema/", {"format": "json"}).json()
        for path in ("/token", "/register", "/token/refresh"):  # /login and /signup are aliases, out of it
            response = schema["paths"][path]["post"]["responses"]["429"]
            assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
            assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"
            assert response["headers"]["Retry-After"]["required"] is True


class TestClientAddress:
    def test_x_forwarded_for_is_ignored_without_trusted_proxies(self, throttle_rates):
        throttle_rates(login_ip="2/min")
        client = APIClient(REMOTE_ADDR="203.0.113.7")
        statuses = [
            login(client, f"user{n}@example.com", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code
            for n in range(3)
        ]
        assert statuses == [401, 401, 429]

    def test_behind_one_trusted_proxy_the_address_it_appended_counts(self, settings, throttle_rates):
        throttle_rates(login_ip="2/min")
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        proxy = APIClient(REMOTE_ADDR="10.0.0.2")

        def through_proxy(client_address, forged="198.51.100.99"):
            # The client may send any X-Forwarded-For; the proxy appends the address it saw.
            xff = f"{forged}, {client_address}"
            return login(proxy, "someone@example.com", HTTP_X_FORWARDED_FOR=xff).status_code

        assert [through_proxy("203.0.113.7", forged=f"192.0.2.{n}") for n in range(3)] == [401, 401, 429]
        assert through_proxy("203.0.113.8") == 401

    def test_ipv6_clients_are_counted_per_64_block(self, throttle_rates):
        throttle_rates(login_ip="2/min")
        same_block = ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"]
        for address in same_block:
            assert login(APIClient(REMOTE_ADDR=address), "x@example.com").status_code == 401
        assert login(APIClient(REMOTE_ADDR="2001:db8:1:2::abcd"), "x@example.com").status_code == 429
        assert login(APIClient(REMOTE_ADDR="2001:db8:1:3::1"), "x@example.com").status_code == 401

    def test_an_ipv4_mapped_ipv6_address_is_the_ipv4_address(self, throttle_rates):
        throttle_rates(login_ip="1/min")
        assert login(APIClient(REMOTE_ADDR="203.0.113.7"), "x@example.com").status_code == 401
        assert login(APIClient(REMOTE_ADDR="::ffff:203.0.113.7"), "x@example.com").status_code == 429


class TestRegister:
    def body(self, email):
        return {"email": email, "password": PASSWORD}

    def test_per_address(self, throttle_rates, clock, django_user_model):
        throttle_rates(register_ip="2/hour")
        client = APIClient(REMOTE_ADDR="203.0.113.7")
        for n in range(2):
            assert client.post("/register", self.body(f"u{n}@example.com"), format="json").status_code == 201

        response = client.post("/signup", self.body("u3@example.com"), format="json")

        assert_throttled(response, retry_after=3590)  # the clock is 10 s into the hour
        assert not django_user_model.objects.filter(email="u3@example.com").exists()
        other = APIClient(REMOTE_ADDR="198.51.100.1")
        assert other.post("/register", self.body("u3@example.com"), format="json").status_code == 201

    def test_per_email_address_in_any_case(self, alice, throttle_rates):
        throttle_rates(register_account="2/hour")
        for address, email in [("10.0.0.1", "alice@example.com"), ("10.0.0.2", "ALICE@example.com")]:
            APIClient(REMOTE_ADDR=address).post("/register", self.body(email), format="json")

        response = APIClient(REMOTE_ADDR="10.0.0.3").post(
            "/register", self.body("Alice@Example.com"), format="json"
        )

        assert response.status_code == 429
        assert APIClient().post("/register", self.body("bob@example.com"), format="json").status_code == 201


class TestRefresh:
    def refresh(self, client, token, **extra):
        return client.post("/token/refresh", {"refresh": token}, format="json", **extra)

    def test_per_address(self, alice, throttle_rates, clock):
        throttle_rates(refresh_ip="2/min")
        client = APIClient(REMOTE_ADDR="203.0.113.7")
        for _ in range(2):
            assert self.refresh(client, "garbage").status_code == 401

        assert_throttled(self.refresh(client, str(RefreshToken.for_user(alice))), retry_after=50)

    def test_per_account_across_addresses_and_sessions(self, alice, bob, throttle_rates):
        throttle_rates(refresh_account="2/min")
        for n in range(2):
            token = str(RefreshToken.for_user(alice))
            assert self.refresh(APIClient(REMOTE_ADDR=f"10.0.0.{n}"), token).status_code == 200

        assert (
            self.refresh(APIClient(REMOTE_ADDR="10.0.0.9"), str(RefreshToken.for_user(alice))).status_code
            == 429
        )
        assert self.refresh(APIClient(), str(RefreshToken.for_user(bob))).status_code == 200

    def test_forged_tokens_cannot_spend_someone_elses_quota(self, alice, throttle_rates):
        throttle_rates(refresh_account="1/min")
        genuine = RefreshToken.for_user(alice)
        forged = str(genuine)[:-4] + ("AAAA" if not str(genuine).endswith("AAAA") else "BBBB")
        for n in range(3):
            assert self.refresh(APIClient(REMOTE_ADDR=f"10.0.1.{n}"), forged).status_code == 401

        assert self.refresh(APIClient(), str(genuine)).status_code == 200


def test_counting_is_atomic_under_concurrent_requests(throttle_rates):
    """Forty requests at once against a limit of ten: exactly ten get through."""
    throttle_rates(login_ip="10/min")
    factory = APIRequestFactory()
    allowed = []
    start = threading.Barrier(8)

    def attempt():
        start.wait(timeout=30)
        for _ in range(5):
            request = Request(factory.post("/token", REMOTE_ADDR="203.0.113.7"))
            allowed.append(LoginAddressThrottle().allow_request(request, view=None))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(allowed) == 40
    assert allowed.count(True) == 10


def test_without_the_cache_requests_are_let_through(anon_client, alice, settings, throttle_rates):
    """Redis down must not lock everybody out: the throttle steps aside (and logs it)."""
    throttle_rates(login_account="1/min", login_ip="1/min")
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            # Nothing listens on port 1 of the loopback address.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    for _ in range(3):
        assert login(anon_client, "alice@example.com", PASSWORD).status_code == 200


class TestRateSettings:
    def test_production_defaults(self):
        rates = settings_value("settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']", container_env())
        assert rates == {
            "login_ip": "10/min",
            "login_account": "5/min",
            "register_ip": "20/hour",
            "register_account": "5/hour",
            "refresh_ip": "30/min",
            "refresh_account": "10/min",
            "alert_create": "60/min",
            "channel_create": "20/hour",
            "channel_test": "20/hour",
            # Issue 16: the resolved account of a login shares THROTTLE_LOGIN_ACCOUNT's rate.
            "login_user": "5/min",
            "password_change": "10/hour",
            "password_reset_ip": "20/hour",
            "password_reset_account": "5/hour",
            "token_confirm_ip": "30/hour",
            "verify_resend": "5/hour",
            "account_delete": "5/hour",
            "api_key_create": "20/hour",
        }
        assert settings_value("settings.REST_FRAMEWORK['NUM_PROXIES']", container_env()) == 0

    def test_rates_come_from_the_environment(self):
        env = container_env(
            THROTTLE_LOGIN_ACCOUNT="3/hour",
            THROTTLE_REFRESH_IP="off",
            NUM_PROXIES="1",
            THROTTLE_ALERT_CREATE="5/s",
            THROTTLE_CHANNEL_CREATE="3/day",
            THROTTLE_CHANNEL_TEST="off",
        )
        rates = settings_value("settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']", env)
        assert (rates["login_account"], rates["refresh_ip"]) == ("3/hour", None)
        assert (rates["alert_create"], rates["channel_create"], rates["channel_test"]) == (
            "5/s",
            "3/day",
            None,
        )
        assert settings_value("settings.REST_FRAMEWORK['NUM_PROXIES']", env) == 1

    @pytest.mark.parametrize("value", ["10", "ten/min", "10/fortnight", "0/min", "10 per minute"])
    def test_a_malformed_rate_is_refused_with_a_clear_message(self, value):
        with pytest.raises(ImproperlyConfigured, match=r"THROTTLE_LOGIN_IP=.* is not a throttle rate"):
            env_values.throttle_rate("THROTTLE_LOGIN_IP", value)

    def test_a_malformed_rate_in_the_environment_stops_startup(self):
        result = django_run(["manage.py", "check"], container_env(THROTTLE_REGISTER_IP="lots"))
        assert result.returncode != 0
        assert "THROTTLE_REGISTER_IP='lots' is not a throttle rate" in result.stderr

    def test_a_disabled_scope_never_throttles(self, anon_client, throttle_rates, settings):
        throttle_rates()
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_ip": None},
        }
        for _ in range(5):
            assert login(anon_client, "x@example.com").status_code == 401
