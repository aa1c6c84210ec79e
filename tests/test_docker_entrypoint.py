"""scripts/docker-entrypoint.sh: a container without SECRET_KEY gets a random one, generated once.

Runs the real script with sh, as the image does, and a command that prints
what the application would see.
"""

import os
import subprocess
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENTRYPOINT = PROJECT_DIR / "scripts" / "docker-entrypoint.sh"
PRINT_KEY = ["sh", "-c", 'printf %s "$SECRET_KEY"']


def run(env: dict[str, str], command=PRINT_KEY) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"]}
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command], env={**base, **env}, capture_output=True, text=True, timeout=30
    )


def test_generates_a_long_random_key_once_and_reuses_it(tmp_path):
    key_file = tmp_path / "secret_key"

    first = run({"SECRET_KEY_FILE": str(key_file)})
    second = run({"SECRET_KEY_FILE": str(key_file)})

    assert first.returncode == 0, first.stderr
    assert len(first.stdout) >= 50 and len(set(first.stdout)) >= 20
    assert "Generated a new SECRET_KEY" in first.stderr
    assert second.stdout == first.stdout
    assert "Generated" not in second.stderr
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_each_installation_gets_its_own_key(tmp_path):
    one = run({"SECRET_KEY_FILE": str(tmp_path / "one")})
    two = run({"SECRET_KEY_FILE": str(tmp_path / "two")})

    assert one.stdout != two.stdout


def test_an_explicit_secret_key_wins_and_no_file_is_written(tmp_path):
    key_file = tmp_path / "secret_key"

    result = run({"SECRET_KEY": "from-the-operator", "SECRET_KEY_FILE": str(key_file)})

    assert result.stdout == "from-the-operator"
    assert not key_file.exists()


def test_without_a_key_file_the_settings_decide(tmp_path):
    """No SECRET_KEY_FILE (plain `docker run`): nothing is invented; settings refuse to run keyless."""
    result = run({})

    assert result.returncode == 0
    assert result.stdout == ""


def test_execs_the_command_so_it_receives_the_containers_signals():
    """The command replaces the script (same pid): `docker stop`'s SIGTERM reaches gunicorn or celery."""
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "sh", "-c", 'echo "$$ $0 $1"', "first", "second"],
        env={"PATH": os.environ["PATH"], "SECRET_KEY": "k"},
        stdout=subprocess.PIPE,
        text=True,
    )
    output, _ = process.communicate(timeout=30)

    assert output.split() == [str(process.pid), "first", "second"]
