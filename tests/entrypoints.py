"""Does a process command (from docker-compose.yml, a Procfile or the Dockerfile) run something real?

``check_command(argv)`` resolves the program the command names, parses its
arguments with that program's own parser (never runs it), and returns what it
found. Unknown programs, missing management commands, unimportable modules and
unknown options all fail with an AssertionError that names the command.
"""

import importlib
import importlib.util
import subprocess
from dataclasses import dataclass, field

from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.core.management import get_commands, load_command_class
from gunicorn.config import Config as GunicornConfig


@dataclass
class EntryPoint:
    kind: str  # "manage.py", "celery", "gunicorn" or "module"
    name: str  # the management command, celery subcommand, WSGI module or Python module
    options: dict = field(default_factory=dict)
    app: object = None  # the Celery app or the WSGI callable


def shell_words(command: str, env: dict[str, str]) -> list[str]:
    """A Procfile line's words after the shell's own expansion (honcho runs lines with sh -c)."""
    result = subprocess.run(
        ["sh", "-c", f'set -- {command}; for word in "$@"; do printf \'%s\\0\' "$word"; done'],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split("\0")[:-1]


def _manage_py(argv: list[str]) -> EntryPoint:
    assert len(argv) >= 3, f"no management command in {argv}"
    name = argv[2]
    commands = get_commands()
    assert name in commands, f"manage.py has no command {name!r} (from {argv})"
    command = load_command_class(commands[name], name)
    parsed = command.create_parser("manage.py", name).parse_args(argv[3:])
    return EntryPoint("manage.py", name, vars(parsed))


def _celery(argv: list[str]) -> EntryPoint:
    words = argv[1:]
    position = next((i for i, word in enumerate(words) if word in celery_cli.commands), None)
    assert position is not None, f"no celery subcommand in {argv}"
    context = celery_cli.make_context("celery", words[:position])
    assert context.params.get("app"), f"celery without -A in {argv}"
    app = find_app(context.params["app"])
    context.obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    subcommand = celery_cli.get_command(context, words[position])
    parsed = subcommand.make_context(words[position], words[position + 1 :], parent=context)
    return EntryPoint("celery", words[position], parsed.params, app)


def _gunicorn(argv: list[str]) -> EntryPoint:
    parsed = GunicornConfig("%(prog)s [OPTIONS] [APP_MODULE]").parser().parse_args(argv[1:])
    assert len(parsed.args) == 1, f"gunicorn needs one APP_MODULE in {argv}"
    module_name, _, attribute = parsed.args[0].partition(":")
    module = importlib.import_module(module_name)
    application = getattr(module, attribute or "application", None)
    assert callable(application), f"{parsed.args[0]} has no WSGI callable"
    return EntryPoint("gunicorn", module_name, vars(parsed), application)


def _module(argv: list[str]) -> EntryPoint:
    name = argv[2]
    assert importlib.util.find_spec(name) is not None, f"no module {name} (from {argv})"
    return EntryPoint("module", name, {"args": argv[3:]})


def check_command(argv: list[str]) -> EntryPoint:
    assert argv, "empty command"
    program = argv[0].rsplit("/", 1)[-1]
    if program.startswith("python") and argv[1:2] == ["manage.py"]:
        return _manage_py(argv)
    if program.startswith("python") and argv[1:2] == ["-m"]:
        return _module(argv)
    if program == "celery":
        return _celery(argv)
    if program == "gunicorn":
        return _gunicorn(argv)
    raise AssertionError(f"unknown program in {argv}")
