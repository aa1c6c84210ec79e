#!/bin/sh
# Container entrypoint: provide SECRET_KEY, then run the given command.
#
# An explicit SECRET_KEY (from .env or the environment) always wins. Without
# one, and with SECRET_KEY_FILE set (docker-compose.yml sets it to a file on
# a named volume), a long random key is generated once, on first start, and
# reused by every process and every restart. So `docker compose up --build`
# works with no setup and never runs on a key that is published anywhere.
set -eu

if [ -z "${SECRET_KEY:-}" ] && [ -n "${SECRET_KEY_FILE:-}" ]; then
    if [ ! -s "$SECRET_KEY_FILE" ]; then
        # O_EXCL: when two containers start at once, exactly one key is written.
        python - "$SECRET_KEY_FILE" <<'PY'
import os
import secrets
import sys

path = sys.argv[1]
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
except FileExistsError:
    sys.exit(0)
with os.fdopen(fd, "w") as key_file:
    key_file.write(secrets.token_urlsafe(50))
print(f"Generated a new SECRET_KEY in {path}.", file=sys.stderr)
PY
    fi
    # Another container may have created the file a moment ago: wait for its key.
    tries=0
    while [ ! -s "$SECRET_KEY_FILE" ] && [ "$tries" -lt 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    SECRET_KEY="$(cat "$SECRET_KEY_FILE")"
    export SECRET_KEY
fi

exec "$@"
