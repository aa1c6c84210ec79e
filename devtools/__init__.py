"""Test and demo tools (the fake Binance server); production code never imports them."""
