#!/usr/bin/env bash
# The browser the web app's tests drive (web/tests/browser): Debian's chromium and chromium-driver.
# Installed with apt-get when missing and we are root (CI, containers); otherwise a clear error,
# never a silent skip. CHROMIUM_BINARY / CHROMEDRIVER_BINARY point the tests at other paths.
set -euo pipefail
chromium="${CHROMIUM_BINARY:-/usr/bin/chromium}"
driver="${CHROMEDRIVER_BINARY:-/usr/bin/chromedriver}"
if [ -x "$chromium" ] && [ -x "$driver" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "ensure_browser: installing chromium and chromium-driver (the web app's browser tests need them)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium chromium-driver >&2
    exit 0
fi
echo "ensure_browser: the browser tests need $chromium and $driver:" >&2
echo "  sudo apt-get install chromium chromium-driver   (or set CHROMIUM_BINARY and CHROMEDRIVER_BINARY)" >&2
exit 1
