"""HTTP routes of the alerts app (each with and without a trailing slash).

The seed paths (aliases of POST /alerts/ and DELETE /alerts/<id>, out of the
schema) come first so "create" and "delete/<id>" are never taken for an id.
"""

from alerts import apis, channel_apis, group_apis, notification_apis
from api.routing import alias, slash_optional

ALERT_ID = r"(?P<alert_id>[0-9]{1,19})"
CHANNEL_ID = r"(?P<channel_id>[0-9]{1,19})"
GROUP_ID = r"(?P<group_id>[0-9]{1,19})"

urlpatterns = [
    alias("alerts/create", apis.AlertCreateApi, name="alert-create"),
    alias(f"alerts/delete/{ALERT_ID}", apis.AlertDeleteApi, name="alert-delete"),
    slash_optional("alerts", apis.AlertCollectionApi.as_view(), name="alert-list"),
    slash_optional(f"alerts/{ALERT_ID}", apis.AlertItemApi.as_view(), name="alert-detail"),
    slash_optional(f"alerts/{ALERT_ID}/snooze", group_apis.AlertSnoozeApi.as_view(), name="alert-snooze"),
    slash_optional("alert-groups", group_apis.AlertGroupCollectionApi.as_view(), name="alert-group-list"),
    slash_optional(
        f"alert-groups/{GROUP_ID}", group_apis.AlertGroupItemApi.as_view(), name="alert-group-detail"
    ),
    slash_optional(
        f"alerts/{ALERT_ID}/notifications",
        notification_apis.AlertNotificationListApi.as_view(),
        name="alert-notifications",
    ),
    slash_optional(
        "notifications", notification_apis.NotificationListApi.as_view(), name="notification-list"
    ),
    slash_optional("channels", channel_apis.ChannelCollectionApi.as_view(), name="channel-list"),
    slash_optional(f"channels/{CHANNEL_ID}", channel_apis.ChannelItemApi.as_view(), name="channel-detail"),
    slash_optional(f"channels/{CHANNEL_ID}/test", channel_apis.ChannelTestApi.as_view(), name="channel-test"),
    slash_optional(
        f"channels/{CHANNEL_ID}/rotate-secret",
        channel_apis.ChannelRotateSecretApi.as_view(),
        name="channel-rotate-secret",
    ),
]
