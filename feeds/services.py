"""Writes to the symbol catalogue."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from feeds.catalogue import SymbolInfo
from feeds.models import Symbol

SYNCED_FIELDS = ("status", "base_asset", "quote_asset", "tick_size", "min_price", "max_price")


@dataclass
class CatalogueChanges:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    stopped_trading: list[tuple[str, str]] = field(default_factory=list)  # (symbol, new status)
    resumed_trading: list[str] = field(default_factory=list)
    delisted: list[str] = field(default_factory=list)
    trading: int = 0
    total: int = 0


@transaction.atomic
def symbol_catalogue_sync(*, symbols: list[SymbolInfo]) -> CatalogueChanges:
    """Make the catalogue match an exchangeInfo listing, in one transaction.

    Symbols missing from the listing are kept (alerts may point at them) with
    status DELISTED, so they leave the TRADING set like any halted symbol.
    """
    now = timezone.now()
    changes = CatalogueChanges()
    existing = {row.symbol: row for row in Symbol.objects.all()}
    listed = {info.symbol: info for info in symbols}
    to_create, to_update = [], []
    # Most changes are status-only (halts, delistings): one UPDATE per new status.
    status_changes: dict[str, list[str]] = defaultdict(list)
    for name, info in sorted(listed.items()):
        values = {
            "status": info.status,
            "base_asset": info.base_asset,
            "quote_asset": info.quote_asset,
            "tick_size": info.tick_size,
            "min_price": info.min_price,
            "max_price": info.max_price,
        }
        row = existing.get(name)
        if row is None:
            to_create.append(Symbol(symbol=name, updated_at=now, **values))
            changes.added.append(name)
            continue
        changed = {key for key, value in values.items() if getattr(row, key) != value}
        if not changed:
            continue
        _note_status_change(changes, name, row.status, info.status)
        changes.updated.append(name)
        if changed == {"status"}:
            status_changes[info.status].append(name)
            continue
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        to_update.append(row)
    for name, row in sorted(existing.items()):
        if name not in listed and row.status != Symbol.DELISTED:
            _note_status_change(changes, name, row.status, Symbol.DELISTED)
            status_changes[Symbol.DELISTED].append(name)
            changes.delisted.append(name)
    Symbol.objects.bulk_create(to_create, batch_size=500)
    Symbol.objects.bulk_update(to_update, [*SYNCED_FIELDS, "updated_at"], batch_size=500)
    for status, names in status_changes.items():
        for start in range(0, len(names), 500):
            Symbol.objects.filter(symbol__in=names[start : start + 500]).update(status=status, updated_at=now)
    changes.total = Symbol.objects.count()
    changes.trading = Symbol.objects.filter(status=Symbol.TRADING).count()
    return changes


def _note_status_change(changes: CatalogueChanges, name: str, old: str, new: str) -> None:
    if old == Symbol.TRADING and new != Symbol.TRADING:
        changes.stopped_trading.append((name, new))
    elif old != Symbol.TRADING and new == Symbol.TRADING:
        changes.resumed_trading.append(name)
