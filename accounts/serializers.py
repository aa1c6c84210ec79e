"""Input and output shapes of the accounts API."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

User = get_user_model()

# Long enough for any passphrase manager; short enough that hashing stays cheap.
PASSWORD_MAX_LENGTH = 1024

# No "@": a username can then never be mistaken for somebody's email at login.
username_validator = RegexValidator(
    r"^[\w.+-]+\Z",
    "A username may contain only letters, digits and . _ + - (no spaces, no @).",
)


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", PASSWORD_MAX_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("style", {"input_type": "password"})
        kwargs["write_only"] = True
        super().__init__(**kwargs)


# One typed, nullable string (empty or null: none) rather than a typeless oneOf beside "nullable".
@extend_schema_field({"type": "string", "maxLength": 150, "pattern": r"^[\w.+-]*$"})
class OptionalUsernameField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            max_length=150, allow_null=True, allow_blank=True, validators=[username_validator], **kwargs
        )


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = PasswordField(help_text="Checked by the server's password rules (length, common, numeric).")
    username = OptionalUsernameField(
        required=False,
        help_text="Optional; unique (case-insensitive); can be used to log in instead of the email.",
    )


class RegisterOutputSerializer(serializers.Serializer):
    """The same for a new address and for one that already has an account (no enumeration)."""

    detail = serializers.CharField(help_text="What happens next.")
    email = serializers.EmailField(help_text="The address as registered (its domain lower-cased).")
    username = serializers.CharField(allow_null=True, help_text="The username asked for, or null.")


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField(allow_null=True)
    date_joined = serializers.DateTimeField()
    email_verified = serializers.SerializerMethodField(
        help_text="Whether the address is confirmed; until it is, nothing is delivered to it "
        "(POST /verify/resend sends a new link)."
    )
    time_zone = serializers.CharField(help_text="IANA time zone of the quiet hours, e.g. Europe/Berlin.")
    quiet_hours = serializers.CharField(
        help_text='"HH:MM-HH:MM" in time_zone (e.g. "23:00-07:00"), or "" for none.'
    )

    def get_email_verified(self, user) -> bool:
        return settings.ACCOUNT_EMAIL_VERIFICATION == "none" or user.email_verified_at is not None


class UserUpdateInputSerializer(serializers.Serializer):
    time_zone = serializers.CharField(
        required=False,
        max_length=64,
        help_text='An IANA time zone name, e.g. "Europe/Berlin" (default "UTC").',
    )
    quiet_hours = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=11,
        help_text='"HH:MM-HH:MM" (24 h, in time_zone; e.g. "23:00-07:00" spans midnight), or "" for none. '
        "Deliveries that fall in them are held and sent when they end, one digest per channel; a "
        "channel may have its own (PATCH /channels/<id>).",
    )


class TokenObtainInputSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254, required=False, help_text="The account's email address.")
    username = serializers.CharField(
        max_length=254, required=False, help_text="The account's username, or its email address."
    )
    password = PasswordField()

    def validate(self, attrs):
        login = attrs.get("email") or attrs.get("username")
        if not login:
            raise serializers.ValidationError("Provide an email (or a username) and a password.")
        return {"login": login, "password": attrs["password"]}


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token for the Authorization header (short-lived).")
    refresh = serializers.CharField(help_text="Exchange at /token/refresh for a new pair; revoke at /logout.")


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(
        max_length=4096, help_text="A refresh token from /token or /token/refresh."
    )


class LogoutInputSerializer(RefreshInputSerializer):
    all = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: end every session of the account (every device), not only this one.",
    )


class PasswordChangeInputSerializer(serializers.Serializer):
    old_password = PasswordField(help_text="The current password.")
    new_password = PasswordField(
        help_text="Checked by the server's password rules (length, common, numeric)."
    )


class PasswordResetInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="The account's address.")


class PasswordResetConfirmInputSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64, help_text="From the emailed link.")
    token = serializers.CharField(max_length=128, help_text="From the emailed link.")
    new_password = PasswordField(
        help_text="Checked by the server's password rules (length, common, numeric)."
    )


class AccountDeleteInputSerializer(serializers.Serializer):
    password = PasswordField(help_text="The current password, asked again so a stolen token cannot do it.")


class VerifyInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1024, help_text="From the emailed confirmation link.")


class VerifiedOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()
    address = serializers.EmailField(help_text="The address now confirmed.")


class DetailOutputSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What happens next.")


class ApiKeyCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What uses the key (a script, a bot).")
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the key stops working (ISO 8601, future); none: never.",
    )


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to tell keys apart (not a secret).")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Recorded to the minute.")


class ApiKeyCreatedOutputSerializer(ApiKeyOutputSerializer):
    key = serializers.CharField(
        help_text="The key, shown this once: send it as `Authorization: Bearer <key>`. "
        "Only a digest is stored."
    )
