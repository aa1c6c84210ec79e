"""Routes of the web app, under /app/ (pricealert/urls.py mounts them; / redirects to /app/)."""

from django.urls import path, re_path

from web.views import (
    account,
    alert_forms,
    alert_page,
    auth,
    channels,
    dashboard,
    groups,
    passwords,
    verification,
)

app_name = "web"

ALERT_ID = r"(?P<alert_id>[0-9]{1,19})"
CHANNEL_ID = r"(?P<channel_id>[0-9]{1,19})"
GROUP_ID = r"(?P<group_id>[0-9]{1,19})"
KEY_ID = r"(?P<key_id>[0-9]{1,19})"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login", auth.login_view, name="login"),
    path("signup", auth.signup_view, name="signup"),
    path("logout", auth.logout_view, name="logout"),
    path("account", account.account, name="account"),
    # Account pages (issue 16's flows): the emailed links open /app/verify and /app/password/reset/confirm.
    path("verify", verification.verify_view, name="verify"),
    path("account/verify/resend", verification.verify_resend_view, name="verify-resend"),
    path("password/reset", passwords.password_reset_view, name="password-reset"),
    path("password/reset/confirm", passwords.password_reset_confirm_view, name="password-reset-confirm"),
    path("account/password", passwords.password_change_view, name="password-change"),
    path("account/preferences", account.preferences_view, name="preferences"),
    path("account/api-keys", account.api_key_create_view, name="api-key-create"),
    re_path(rf"^account/api-keys/{KEY_ID}/revoke$", account.api_key_revoke_view, name="api-key-revoke"),
    path("account/logout-all", account.logout_everywhere_view, name="logout-all"),
    path("account/delete", account.account_delete_view, name="account-delete"),
    path("alerts/rows", dashboard.alert_rows_fragment, name="alert-rows"),
    path("alerts/new", alert_forms.alert_new, name="alert-new"),
    path("symbols", alert_forms.symbol_options, name="symbols"),
    path("prices", alert_forms.current_price, name="price"),
    re_path(rf"^alerts/{ALERT_ID}$", alert_page.alert_page, name="alert"),
    re_path(rf"^alerts/{ALERT_ID}/edit$", alert_forms.alert_edit, name="alert-edit"),
    re_path(rf"^alerts/{ALERT_ID}/delete$", alert_page.alert_delete_view, name="alert-delete"),
    re_path(rf"^alerts/{ALERT_ID}/rearm$", alert_page.alert_rearm_view, name="alert-rearm"),
    re_path(rf"^alerts/{ALERT_ID}/snooze$", alert_page.alert_snooze_view, name="alert-snooze"),
    re_path(rf"^groups/{GROUP_ID}$", groups.group_page, name="group"),
    re_path(rf"^groups/{GROUP_ID}/paused$", groups.group_paused, name="group-paused"),
    re_path(rf"^groups/{GROUP_ID}/delete$", groups.group_delete, name="group-delete"),
    path("channels", channels.channels, name="channels"),
    re_path(rf"^channels/{CHANNEL_ID}/edit$", channels.channel_edit, name="channel-edit"),
    re_path(rf"^channels/{CHANNEL_ID}/enabled$", channels.channel_enabled, name="channel-enabled"),
    re_path(rf"^channels/{CHANNEL_ID}/test$", channels.channel_test_view, name="channel-test"),
    re_path(rf"^channels/{CHANNEL_ID}/delete$", channels.channel_delete_view, name="channel-delete"),
]
