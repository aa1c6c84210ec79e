"""Message templates: checked at creation (400 when they cannot render), values escaped, sent as
rendered to a real HTTP server, and previewed by the channel test."""

import json
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from alerts import engine
from alerts.delivery import probe, send, templates
from alerts.delivery.kinds.webhook import sign
from alerts.models import Alert, Channel, Notification
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow
from tests.support.http import HookServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local_delivery")]

HOSTILE_NOTE = 'He said "sell"\\ now\n</script>{{url}} \u2028 ü \x07'


def fire_one(user, channel, note=HOSTILE_NOTE) -> Notification:
    now = int(time.time() * 1000)
    alert = Alert.objects.create(
        user=user,
        symbol="BTCUSDT",
        direction="above",
        target_price=Decimal("70000"),
        armed_at=ms_to_datetime(now - 60_000),
        note=note,
    )
    alert.channels.set([channel])
    price = Decimal("70000.5")
    engine.evaluate_windows([PriceWindow("BTCUSDT", price, price, price, now, now)])
    return Notification.objects.get(alert=alert)


class TestChecks:
    @pytest.mark.parametrize(
        "template",
        [
            '{"text": "{{symbol}} at {{price}}"}',
            '{"content": "{{ symbol }} {{direction}} {{target}}", '
            '"embeds": [{"title": "{{note}}", "n": 1.5}]}',
            '[{"{{symbol}}": "{{time}} {{alert_id}} {{url}}"}]',
        ],
    )
    def test_good_json_templates(self, template):
        assert templates.check_json_template(template) == template

    @pytest.mark.parametrize(
        "template, says",
        [
            ('{"text": "{{symbol}}"', "Not valid JSON"),
            ('{"price": {{price}}}', "Not valid JSON"),
            ('{"text": "{{sym}}"}', "Unknown placeholder {{sym}}"),
            ('{"text": "{{symbol}"}', "Unbalanced"),
            ('{"text": "}}{{"}', "Unbalanced"),
            ('"just a string {{symbol}}"', "JSON object or array"),
            ('{"n": NaN}', "Not valid JSON"),
            ('{"a": {{note}} }', "Not valid JSON"),
        ],
    )
    def test_templates_that_cannot_render_say_why(self, template, says):
        with pytest.raises(ValidationError) as caught:
            templates.check_json_template(template)
        assert says in caught.value.message_dict["body_template"][0]

    def test_size_is_capped(self, settings):
        settings.ALERTS_TEMPLATE_MAX_CHARS = 50
        with pytest.raises(ValidationError) as caught:
            templates.check_json_template('{"text": "' + "x" * 60 + '"}')
        assert "At most 50 characters" in caught.value.message_dict["body_template"][0]

    def test_a_template_that_renders_too_large_is_refused(self):
        with pytest.raises(ValidationError) as caught:
            templates.check_json_template('{"t": "' + "{{note}}" * 400 + '"}')
        assert "Renders larger" in caught.value.message_dict["body_template"][0]

    def test_every_value_is_json_escaped_and_never_scanned_again(self):
        values = {**templates.SAMPLE_VALUES, "note": HOSTILE_NOTE}
        body = templates.render_json('{"text": "{{note}}!", "{{symbol}}": ["{{price}}"]}', values)
        assert json.loads(body) == {"text": HOSTILE_NOTE + "!", "BTCUSDT": ["70000.5"]}
        assert "{{url}}" in json.loads(body)["text"]  # the note's own braces are text

    def test_text_templates(self):
        assert templates.check_text_template("{{symbol}} {{price}}", field="body_template")
        with pytest.raises(ValidationError):
            templates.check_text_template("{{symbol}} {{oops}}", field="body_template")
        with pytest.raises(ValidationError):
            templates.check_text_template("x" * 251, field="title_template", max_chars=250)


class TestApi:
    def test_a_webhook_carries_a_json_body_template(self, alice_client):
        template = '{"text": "{{symbol}} hit {{price}}"}'
        response = alice_client.post(
            "/channels/",
            {"kind": "webhook", "url": "https://hooks.example.com/x", "body_template": template},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["body_template"] == template

    @pytest.mark.parametrize(
        "body, field",
        [
            (
                {"kind": "webhook", "url": "https://hooks.example.com/x", "body_template": "{{symbol}}"},
                "body_template",
            ),
            (
                {"kind": "webhook", "url": "https://hooks.example.com/x", "title_template": "{{symbol}}"},
                "title_template",
            ),
            ({"kind": "apprise", "url": "ntfys://topic", "title_template": "{{nope}}"}, "title_template"),
            ({"kind": "apprise", "url": "ntfys://topic", "title_template": "x" * 251}, "title_template"),
        ],
    )
    def test_a_template_that_cannot_render_is_a_400(self, alice_client, body, field):
        response = alice_client.post("/channels/", body, format="json")
        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert not Channel.objects.exclude(kind="email").exists()

    def test_an_email_channel_has_no_templates(self, alice, alice_client):
        email = Channel.objects.get(user=alice, kind="email")
        response = alice_client.patch(f"/channels/{email.pk}", {"body_template": "{{symbol}}"}, format="json")
        assert response.status_code == 400 and "body_template" in response.json()["errors"]

    def test_changing_a_template_is_checked_too(self, alice_client):
        created = alice_client.post(
            "/channels/", {"kind": "webhook", "url": "https://hooks.example.com/x"}, format="json"
        ).json()
        bad = alice_client.patch(
            f"/channels/{created['id']}", {"body_template": '{"a": {{price}}}'}, format="json"
        )
        assert bad.status_code == 400
        good = alice_client.patch(
            f"/channels/{created['id']}", {"body_template": '{"a": "{{price}}"}'}, format="json"
        )
        assert good.json()["body_template"] == '{"a": "{{price}}"}'
        cleared = alice_client.patch(f"/channels/{created['id']}", {"body_template": ""}, format="json")
        assert cleared.json()["body_template"] == ""

    def test_the_channel_test_previews_the_template(self, alice, alice_client, settings):
        settings.CHANNEL_TEST_WAIT_SECONDS = 0.05  # no worker here: the answer is a 202 with the preview
        channel = Channel.objects.create(
            user=alice,
            kind="webhook",
            url="https://hooks.example.com/x",
            secret="k" * 64,
            body_template='{"text": "{{symbol}}: {{note}}"}',
        )
        body = alice_client.post(f"/channels/{channel.pk}/test").json()
        assert json.loads(body["preview"]["body"]) == {"text": "BTCUSDT: " + templates.SAMPLE_VALUES["note"]}


class TestDelivery:
    def test_a_webhook_posts_the_rendered_template_signed(self, alice):
        with HookServer() as server:
            hook = Channel.objects.create(
                user=alice,
                kind="webhook",
                url=server.url + "/bot",
                secret="s" * 64,
                body_template='{"chat": 42, "text": "{{symbol}} {{direction}} {{target}}: {{price}} '
                'at {{time}}. {{note}} #{{alert_id}} {{url}}"}',
            )
            notification = fire_one(alice, hook)
            assert send.deliver(notification.pk, 0).outcome == "sent"
            (request,) = server.received
        timestamp = request.headers["X-Pricealert-Timestamp"]
        assert request.headers["X-Pricealert-Signature"] == sign("s" * 64, timestamp, request.body)
        sent = json.loads(request.body)
        alert_id = notification.alert_id
        assert sent["chat"] == 42
        at = notification.triggered_at.isoformat().replace("+00:00", "Z")
        assert sent["text"] == (
            f"BTCUSDT above 70000: 70000.5 at {at}. "
            f"{HOSTILE_NOTE} #{alert_id} http://localhost:8000/alerts/{alert_id}"
        )

    def test_an_apprise_channel_sends_its_title_and_body_templates(self, alice):
        with HookServer() as server:
            channel = Channel.objects.create(
                user=alice,
                kind="apprise",
                url=server.url.replace("http://", "json://") + "/apprise",
                title_template="{{symbol}} is {{direction}} {{target}}",
                body_template="Now {{price}}. {{note}}",
            )
            notification = fire_one(alice, channel, note="take profit")
            assert send.deliver(notification.pk, 0).outcome == "sent"
            (request,) = server.received
        payload = json.loads(request.body)
        assert (payload["title"], payload["message"]) == (
            "BTCUSDT is above 70000",
            "Now 70000.5. take profit",
        )

    def test_the_test_message_is_the_preview(self, alice):
        with HookServer() as server:
            channel = Channel.objects.create(
                user=alice,
                kind="webhook",
                url=server.url,
                secret="s" * 64,
                body_template='{"text": "{{symbol}} {{note}}"}',
            )
            outcome = probe.run_test(channel.pk, probe.new_token())
            (request,) = server.received
        assert outcome.delivered
        from alerts.delivery.compose import preview

        assert request.body.decode() == preview(channel)["body"]
