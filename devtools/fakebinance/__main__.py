"""``python -m devtools.fakebinance``: the fake Binance as a standalone server (``make demo``'s market)."""

import sys

from devtools.fakebinance.server import main

sys.exit(main())
