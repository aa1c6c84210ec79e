"""Filters of the alert list: ?status= and ?symbol=.

Deleted alerts are soft-deleted: the list hides them unless ?status=deleted
asks for them.
"""

import django_filters

from alerts.models import Alert
from alerts.serializers import symbol_format

VALID_STATUSES = ", ".join(Alert.Status.values)


class AlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=Alert.Status.choices,
        error_messages={"invalid_choice": f'Unknown status "%(value)s": use one of {VALID_STATUSES}.'},
    )
    symbol = django_filters.CharFilter(method="filter_symbol", max_length=32, validators=[symbol_format])

    class Meta:
        model = Alert
        fields = []

    def filter_symbol(self, queryset, name, value):
        # Symbols are stored upper case, so matching the upper-cased value is
        # case-insensitive without wrapping the column in UPPER().
        return queryset.filter(symbol=value.strip().upper())

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.exclude(status=Alert.Status.DELETED)
        return super().filter_queryset(queryset)
