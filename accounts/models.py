"""The custom User (the email address is the login), its login sessions and its API keys."""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", max_length=254, unique=True)
    # Optional display name; unique when given, so it can also be used to log in.
    username = models.CharField(max_length=150, blank=True, null=True)  # noqa: DJ001
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Quiet hours (alerts.delivery.quiet): an IANA time zone, and "23:00-07:00" or "" for none.
    time_zone = models.CharField(max_length=64, default="UTC", db_default="UTC")
    quiet_hours = models.CharField(max_length=11, blank=True, default="", db_default="")
    # Every JWT carries the generation it was issued in; a password change or reset and
    # "log out everywhere" raise it, so every token issued before is refused at once
    # (accounts.authentication), access tokens included.
    session_generation = models.PositiveIntegerField(default=0, db_default=0)
    # When the owner proved the address is theirs (the emailed link); null: not yet. With
    # ACCOUNT_EMAIL_VERIFICATION=mandatory nothing is delivered to an unverified address.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                condition=models.Q(username__isnull=False),
            ),
        ]

    def __str__(self):
        return self.email

    # A browser session (the web app, the admin) carries this hash and is ended when it changes.
    # Django makes it from the password alone; with the session generation in it, "log out
    # everywhere" ends every browser session too, as it ends every token.
    def _session_hash(self, secret=None) -> str:
        return salted_hmac(
            "accounts.User.session_auth_hash",
            f"{self.password}\x00{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_session_auth_hash(self):
        return self._session_hash()

    def get_session_auth_fallback_hash(self):
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=fallback_secret)

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email)


class SessionFamily(models.Model):
    """One login and every refresh token rotated from it.

    A family ends at ``expires_at`` however often it is refreshed (rotation does
    not extend it), and is revoked as a whole on logout or when one of its
    already-rotated refresh tokens is presented again (a stolen copy in use).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_families"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="session_family_user_idx")]

    def __str__(self):
        return f"session {self.pk} of user {self.user_id}"


class ApiKey(models.Model):
    """A long-lived credential for a script: ``pa_<prefix>_<secret>``, stored as a SHA-256 digest.

    The key is random (256 bits), so a fast digest is enough: nothing is left to
    brute-force, unlike a password. ``prefix`` is shown in lists to tell keys apart.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"API key {self.name!r} ({self.prefix}) of user {self.user_id}"
