"""Read what Celery really queued in the test Redis (the broker is REDIS_URL's database)."""

import base64
import json

import redis


def queued_tasks(client: redis.Redis, queue: str = "celery") -> list[tuple[str, list]]:
    """(task name, args) of every message waiting in the queue, oldest first."""
    tasks = []
    for raw in reversed(client.lrange(queue, 0, -1)):  # kombu LPUSHes and BRPOPs
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        tasks.append((envelope["headers"]["task"], args))
    return tasks
