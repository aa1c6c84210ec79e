"""Django admin for the feeds app: the symbol catalogue, read-mostly (syncsymbols maintains it)."""

from django.contrib import admin

from feeds.models import Symbol


@admin.register(Symbol)
class SymbolAdmin(admin.ModelAdmin):
    list_display = ("symbol", "status", "base_asset", "quote_asset", "tick_size", "updated_at")
    list_filter = ("status", "quote_asset")
    search_fields = ("symbol", "base_asset", "quote_asset")
    readonly_fields = ("updated_at",)
    list_per_page = 100
