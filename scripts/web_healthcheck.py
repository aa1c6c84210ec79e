"""Container healthcheck of the web service: GET /health from inside the container.

Asks as the first host in ALLOWED_HOSTS, so a deployment that allows only its
public name (ALLOWED_HOSTS=alerts.example.com) is not reported unhealthy for
a 400 "invalid host". Exits 0 on HTTP 200, 1 otherwise (503 = database or Redis down).

    python scripts/web_healthcheck.py [URL]     # default http://127.0.0.1:8000/health
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/health"


def allowed_host() -> str:
    first = (os.environ.get("ALLOWED_HOSTS") or "localhost").split(",")[0].strip()
    if first in ("", "*"):
        return "localhost"
    return first.lstrip(".")  # ".example.com" allows example.com itself too


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    request = urllib.request.Request(url, headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            print(response.read(500).decode(errors="replace"))
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as error:
        print(f"HTTP {error.code}: {error.read(500).decode(errors='replace')}", file=sys.stderr)
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
