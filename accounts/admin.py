"""Django admin for the accounts app: operators find users by email."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html_join

from accounts.models import ApiKey, User
from accounts.preferences import check_time_zone, check_window
from accounts.signals import deleting_accounts


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "username")


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_time_zone(self):
        try:
            return check_time_zone(self.cleaned_data.get("time_zone", ""))
        except ValidationError as error:
            raise ValidationError(error.message_dict["time_zone"]) from error

    def clean_quiet_hours(self):
        try:
            return check_window(self.cleaned_data.get("quiet_hours", ""))
        except ValidationError as error:
            raise ValidationError(error.message_dict["quiet_hours"]) from error


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    list_display = ("email", "username", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "username")
    ordering = ("email",)
    readonly_fields = ("date_joined", "last_login", "their_records")
    fieldsets = (
        (None, {"fields": ("email", "username", "password", "their_records")}),
        ("Notifications", {"fields": ("time_zone", "quiet_hours")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )

    def delete_model(self, request, obj):
        with transaction.atomic():
            deleting_accounts.send(sender=User, users=[obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            deleting_accounts.send(sender=User, users=queryset)
            super().delete_queryset(request, queryset)

    @admin.display(description="alerts, channels, notifications")
    def their_records(self, user):
        # Links by admin URL name only: the accounts app does not import the alerts app.
        links = [
            (reverse(f"admin:alerts_{model}_changelist") + f"?user__exact={user.pk}", label)
            for model, label in (
                ("alert", "alerts"),
                ("channel", "channels"),
                ("notification", "notifications"),
            )
        ]
        return format_html_join(" · ", '<a href="{}">their {}</a>', links)

    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "username", "usable_password", "password1", "password2"),
            },
        ),
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Operators see who has which keys and when they were used; never a key (only its digest is
    stored, and not shown either). Revoking is deleting."""

    list_display = ("name", "prefix", "user", "created_at", "expires_at", "last_used_at")
    search_fields = ("user__email", "name", "prefix")
    fields = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # made by their owner through the API, which shows the key once
