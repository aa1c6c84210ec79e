"""One client connection as the fake server sees it: the route its URL asks for, its streams, its frames.

Binance's endpoints: ``/ws`` and ``/ws/<s1>/<s2>`` send raw payloads,
``/stream`` and ``/stream?streams=<s1>/<s2>`` wrap them as
``{"stream","data"}``; any other path gets HTTP 404, a malformed stream name
in the URL HTTP 400.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.frames import Opcode
from websockets.protocol import State

from devtools.fakebinance.wire import is_valid_stream

# Binance counts every frame a client sends against its 5 messages a second.
COUNTED_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG})


class RouteRefused(Exception):
    """The HTTP answer to a handshake Binance would refuse."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status
        self.text = text


def parse_route(request_path: str, max_streams: int) -> tuple[bool, list[str]]:
    """``(combined, streams)`` for a handshake's path; raises RouteRefused."""
    parts = urlsplit(request_path)
    path = parts.path.rstrip("/")
    if path == "/ws":
        combined, streams = False, []
    elif path.startswith("/ws/"):
        combined, streams = False, [s for s in path[len("/ws/") :].split("/") if s]
    elif path == "/stream":
        combined = True
        query = parse_qs(parts.query).get("streams", [""])[0]
        streams = [s for s in query.split("/") if s]
    else:
        raise RouteRefused(404, "Not Found\n")
    if not all(is_valid_stream(s) for s in streams):
        raise RouteRefused(400, "Invalid request: invalid stream\n")
    if len(streams) > max_streams:
        raise RouteRefused(400, "Invalid request: too many streams\n")
    return combined, streams


class Client:
    """Server-side state of one connection."""

    def __init__(self, client_id: int, ws: ServerConnection, combined: bool, streams: list[str]):
        self.id = client_id
        self.ws = ws
        self.combined = combined
        self.streams: dict[str, None] = dict.fromkeys(streams)  # insertion-ordered set
        self.message_times: deque[float] = deque()
        self.messages_received = 0
        self.control_requests = 0
        self.pongs_received = 0
        self.keepalive_task: asyncio.Task | None = None

    @property
    def is_open(self) -> bool:
        return self.ws.protocol.state is State.OPEN

    def write(self, frame: bytes) -> None:
        # Frames are written to the transport directly: identical bytes to what
        # websockets would send (no compression), without a coroutine per frame.
        if self.is_open:
            self.ws.transport.write(frame)


class CountingConnection(ServerConnection):
    """A ServerConnection that reports every incoming frame, pongs included."""

    on_frame: Callable[[Opcode], None] | None = None

    def process_event(self, event) -> None:
        super().process_event(event)
        on_frame = self.on_frame
        if on_frame is not None and getattr(event, "opcode", None) in COUNTED_OPCODES:
            on_frame(event.opcode)
