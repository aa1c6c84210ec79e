"""A real HTTP server on 127.0.0.1 (ephemeral port) that records requests and answers as scripted."""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple = ()  # the client's (host, port): one per connection


class HookServer:
    """``with HookServer(...) as server``: ``server.url``, ``server.received``.

    ``answers``: status codes for the next requests (GET or POST), in order;
    then ``default`` (which a test may change). ``delay``: seconds before
    answering. ``body``: what every answer carries (JSON). ``keep_alive``: speak
    HTTP/1.1 and keep connections open, as real servers do.
    """

    def __init__(
        self,
        *answers: int,
        default: int = 200,
        delay: float = 0.0,
        body: bytes = b'{"ok": true}',
        keep_alive: bool = False,
    ):
        self.answers = list(answers)
        self.default = default
        self.delay = delay
        self.body = body
        self.received: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self):
                self._answer()

            def do_POST(self):
                self._answer()

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server._lock:
                    server.received.append(
                        Received(
                            self.command,
                            self.path,
                            dict(self.headers.items()),
                            body,
                            tuple(self.client_address),
                        )
                    )
                    code = server.answers.pop(0) if server.answers else server.default
                if server.delay:
                    time.sleep(server.delay)
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(server.body)))
                    self.end_headers()
                    self.wfile.write(server.body)
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
