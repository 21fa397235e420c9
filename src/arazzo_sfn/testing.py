"""A scripted HTTP server for conformance tests: each route answers a fixed sequence of
replies, and every request it receives is recorded for the test to check.

    with ScriptedServer({"GET /pet/{petId}": [Reply(404), Reply(200, {"id": 7})]}) as server:
        ...  # run something against server.url
    assert server.sequence() == ["GET /pet/7", "GET /pet/7"]
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

NO_ROUTE = {"error": "no route"}


@dataclass(frozen=True)
class Reply:
    """One scripted answer. A str body is sent as text/plain, anything else as JSON, and
    None as no body at all; a Content-Type in `headers` overrides either."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        has_type = any(name.lower() == "content-type" for name in headers)
        if isinstance(self.body, str):
            data = self.body.encode("utf-8")
            default_type = "text/plain; charset=utf-8"
        else:
            data = json.dumps(self.body).encode("utf-8")
            default_type = "application/json"
        if not has_type:
            headers["Content-Type"] = default_type
        return data, headers


@dataclass(frozen=True)
class Call:
    """One request as received. `query` and form bodies map each name to its list of
    values (a name can repeat); `headers` have lower-case names; `route` is the key of the
    route that answered, or None when none matched."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    cookies: dict[str, str]
    body: Any
    route: str | None
    status: int

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


class _Route:
    def __init__(self, key: str, replies: Sequence[Reply] | Reply):
        method, _, template = key.partition(" ")
        if not method or not template.startswith("/"):
            raise ValueError(f"a route is 'METHOD /path/template', got {key!r}")
        replies = [replies] if isinstance(replies, Reply) else list(replies)
        if not replies or not all(isinstance(reply, Reply) for reply in replies):
            raise ValueError(f"route {key!r} needs at least one Reply")
        self.key = key
        self.method = method.upper()
        self.replies = replies
        self.served = 0
        self.variables = template.count("{")
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^/{}]+\})", template) if part
        )
        self.pattern = re.compile(pattern)

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.pattern.fullmatch(path) is not None

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]  # the last one repeats
        self.served += 1
        return reply


class ScriptedServer:
    """Serves `routes` on a free loopback port from a background thread."""

    def __init__(self, routes: Mapping[str, Sequence[Reply] | Reply], host: str = "127.0.0.1"):
        built = [_Route(key, replies) for key, replies in routes.items()]
        # A concrete path wins over a templated one (as in OpenAPI): /pet/findByTags before /pet/{petId}.
        self._routes = sorted(built, key=lambda route: route.variables)
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        # Read while the socket is open: the URL still names the server once it is closed.
        bound_host, port = self._httpd.socket.getsockname()[:2]  # an AF_INET address: (host text, port)
        self._url = f"http://{bound_host}:{port}"

    @property
    def url(self) -> str:
        return self._url

    def start(self) -> ScriptedServer:
        if self._thread is None:
            # A short poll interval keeps stop() quick: shutdown waits for the next poll.
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="scripted-server", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def sequence(self) -> list[str]:
        """'METHOD /path' of every request received, in order."""
        with self._lock:
            return [call.line for call in self.calls]

    def _answer(self, method: str, path: str) -> tuple[str | None, Reply]:
        with self._lock:
            for route in self._routes:
                if route.matches(method, path):
                    return route.key, route.next_reply()
        return None, Reply(404, NO_ROUTE)

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            route, reply = server._answer(self.command, parts.path)
            server._record(Call(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=headers,
                cookies=_cookies(headers.get("cookie", "")),
                body=_parse_body(raw, headers.get("content-type", "")),
                route=route,
                status=reply.status,
            ))
            data, reply_headers = reply.encode()
            self.send_response(reply.status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:  # the calls are recorded instead
            pass

    return Handler


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _parse_body(raw: bytes, content_type: str) -> Any:
    """JSON bodies as values, form bodies as name -> values, other text as str; no body is None."""
    if not raw:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if media_type == "application/x-www-form-urlencoded":
        return parse_qs(text, keep_blank_values=True)
    return text
