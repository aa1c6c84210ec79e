#!/bin/sh
# Container entrypoint: provide SECRET_KEY, REDIS_PASSWORD and FIELD_ENCRYPTION_KEY, then run the given command.
#
# An explicit value (from .env or the environment) always wins. Without one,
# and with NAME_FILE set (docker-compose.yml sets SECRET_KEY_FILE and
# REDIS_PASSWORD_FILE to files on a named volume), a long random value is
# generated once, on first start, and reused by every process and every
# restart; the compose redis service reads the same password file. So
# `docker compose up --build` works with no setup and never runs on a key or
# a password that is published anywhere.
set -eu

# secret_from_file NAME: export NAME, read from the file named by NAME_FILE (made if missing).
secret_from_file() {
    eval "value=\${$1:-} path=\${$1_FILE:-}"
    if [ -n "$value" ] || [ -z "$path" ]; then
        return 0
    fi
    if [ ! -s "$path" ]; then
        # O_EXCL: when two containers start at once, exactly one value is written.
        python - "$path" "$1" <<'PY'
import os
import secrets
import sys

path, name = sys.argv[1:]
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
except FileExistsError:
    sys.exit(0)
with os.fdopen(fd, "w") as secret_file:
    # URL-safe characters only: REDIS_PASSWORD goes into a URL and a redis.conf line as is.
    secret_file.write(secrets.token_urlsafe(50))
print(f"Generated a new {name} in {path}.", file=sys.stderr)
PY
    fi
    # Another container may have created the file a moment ago: wait for its value.
    tries=0
    while [ ! -s "$path" ] && [ "$tries" -lt 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    value="$(cat "$path")"
    eval "$1=\$value"
    export "$1"
}

secret_from_file SECRET_KEY
secret_from_file REDIS_PASSWORD
# The key channel secrets are encrypted with in the database (alerts.encryption stretches it
# to a Fernet key), from FIELD_ENCRYPTION_KEY_FILE; like SECRET_KEY, removing the appdata
# volume loses it.
secret_from_file FIELD_ENCRYPTION_KEY

exec "$@"
