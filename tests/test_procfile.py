"""Procfile and Procfile.demo: the processes `make run` and `make demo` start, and what they run.

Evaluation has a worker process type of its own (`engine`), so no delivery can
hold a tick back (docs/SECURITY.md): the queues each worker consumes are checked
against where the Celery app routes each task.

honcho's own parser reads the files; each line is expanded by sh as honcho
does, then its program's own argument parser checks it (tests/entrypoints.py).
"""

import os
from pathlib import Path

import pytest
import yaml
from honcho.environ import parse_procfile

from tests.e2e.harness import DELIVERY_CONCURRENCY
from tests.entrypoints import check_command, shell_words

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROCFILE = parse_procfile((PROJECT_DIR / "Procfile").read_text()).processes
DEMO_PROCFILE = parse_procfile((PROJECT_DIR / "Procfile.demo").read_text()).processes
COMPOSE = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())["services"]
# What honcho and the Makefile put in the processes' environment.
HONCHO_ENV = {
    "PATH": os.environ["PATH"],
    "PORT": "8000",
    "DEMO_MARKET_PORT": "9443",
    "DEMO_PRICE_ARGS": "--price BTCUSDT=60000 --price ETHUSDT=3000",
}


def words(command: str, **env) -> list[str]:
    return shell_words(command, {**HONCHO_ENV, **env})


def test_procfile_runs_the_five_processes():
    assert list(PROCFILE) == ["web", "feeder", "worker", "engine", "beat"]  # web first: honcho gives it $PORT


@pytest.mark.filterwarnings("ignore:No directory at")  # importing the WSGI app; no collectstatic here
def test_web_serves_the_wsgi_application_on_port_from_honcho_locally_only():
    entry = check_command(words(PROCFILE["web"]))

    assert (entry.kind, entry.name) == ("gunicorn", "pricealert.wsgi")
    assert entry.options["bind"] == ["127.0.0.1:8000"]
    assert entry.options["control_socket_disable"] is True  # two local stacks must not share one socket


def test_feeder_runs_the_production_feeder_command():
    assert check_command(words(PROCFILE["feeder"])).name == "runfeeder"


def test_worker_and_beat_run_the_project_celery_app():
    worker = check_command(words(PROCFILE["worker"]))
    beat = check_command(words(PROCFILE["beat"], RUN_DIR="/tmp/some-run-dir"))

    assert (worker.name, worker.app.main) == ("worker", "pricealert")
    assert (beat.name, beat.app.main) == ("beat", "pricealert")
    assert beat.options["schedule"] == "/tmp/some-run-dir/celerybeat-schedule"
    assert check_command(words(PROCFILE["beat"])).options["schedule"] == ".run/celerybeat-schedule"


def test_delivery_and_evaluation_run_in_separate_worker_processes():
    worker = check_command(words(PROCFILE["worker"]))
    engine = check_command(words(PROCFILE["engine"]))

    assert (worker.name, engine.name) == ("worker", "worker")
    assert worker.options["queues"] == ["celery"]
    assert engine.options["queues"] == ["engine"]
    assert engine.options["concurrency"] == 1  # one tick at a time; the tick's lock is a backstop
    # Sends wait on the network: more processes than cores, the same number everywhere it runs.
    assert worker.options["concurrency"] == DELIVERY_CONCURRENCY
    # Two workers on one host need two node names.
    assert engine.options["hostname"] != worker.options["hostname"]


def test_every_alerts_task_is_routed_to_a_queue_that_one_process_type_consumes():
    worker = check_command(words(PROCFILE["worker"]))
    engine = check_command(words(PROCFILE["engine"]))
    app = worker.app
    app.loader.import_default_modules()
    consumers = {"celery": "worker", "engine": "engine"}
    assert set(worker.options["queues"]) | set(engine.options["queues"]) == set(consumers)

    routed = {
        name: app.amqp.router.route({}, name)["queue"].name
        for name in app.tasks
        if name.startswith("alerts.")
    }

    assert routed["alerts.tasks.evaluate_alerts"] == "engine"
    assert routed["alerts.tasks.requeue_stuck_notifications"] == "engine"
    assert routed["alerts.tasks.send_notification"] == routed["alerts.tasks.send_notifications"] == "celery"
    assert set(routed.values()) <= set(consumers)


def test_demo_runs_the_same_five_commands_plus_the_market_simulator():
    assert set(DEMO_PROCFILE) == set(PROCFILE) | {"market"}
    assert next(iter(DEMO_PROCFILE)) == "web"
    for name, command in PROCFILE.items():
        assert DEMO_PROCFILE[name] == command, f"make demo's {name} differs from make run's"


def test_demo_market_is_the_fake_binance_in_random_walk_mode_at_the_given_prices():
    argv = words(DEMO_PROCFILE["market"])
    entry = check_command(argv)

    assert (entry.kind, entry.name) == ("module", "devtools.fakebinance")
    args = entry.options["args"]
    assert "--random-walk" in args
    assert args[args.index("--port") + 1] == "9443"
    assert args[args.index("--host") + 1] == "127.0.0.1"
    prices = [args[i + 1] for i, arg in enumerate(args) if arg == "--price"]
    assert prices == ["BTCUSDT=60000", "ETHUSDT=3000"]


def test_compose_and_procfile_run_the_same_programs():
    for name in ("feeder", "worker", "engine"):
        assert COMPOSE[name]["command"] == words(PROCFILE[name]), name
    compose_beat, procfile_beat = COMPOSE["beat"]["command"], words(PROCFILE["beat"])
    before_schedule = compose_beat.index("--schedule")
    assert compose_beat[:before_schedule] == procfile_beat[:before_schedule]
    assert COMPOSE["web"]["command"][:2] == words(PROCFILE["web"])[:2]
