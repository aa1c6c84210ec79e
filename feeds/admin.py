"""Django admin for the feeds app: the symbol catalogue, read-only (syncsymbols maintains it from Binance)."""

from django.contrib import admin

from feeds.models import Symbol


@admin.register(Symbol)
class SymbolAdmin(admin.ModelAdmin):
    list_display = ("symbol", "status", "base_asset", "quote_asset", "tick_size", "updated_at")
    list_filter = ("status", "quote_asset")
    search_fields = ("symbol", "base_asset", "quote_asset")
    list_per_page = 100

    # A hand edit would be overwritten by the next syncsymbols, and a wrong bound or status
    # would refuse (or accept) alerts the exchange does not: view only.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
