"""The symbol catalogue: Binance spot symbols the API accepts alerts for."""

from django.db import models


class Symbol(models.Model):
    TRADING = "TRADING"
    # Not a Binance status: set by syncsymbols when exchangeInfo stops listing a symbol.
    DELISTED = "DELISTED"

    symbol = models.CharField(max_length=32, primary_key=True)
    status = models.CharField(max_length=20)
    base_asset = models.CharField(max_length=20)
    quote_asset = models.CharField(max_length=20)
    tick_size = models.DecimalField(max_digits=20, decimal_places=8)
    # PRICE_FILTER bounds; 0 means Binance does not enforce that bound.
    min_price = models.DecimalField(max_digits=20, decimal_places=8)
    max_price = models.DecimalField(max_digits=20, decimal_places=8)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self):
        return self.symbol

    @property
    def is_trading(self) -> bool:
        return self.status == self.TRADING
