"""A local stand-in for Airbyte's public API, served over real HTTP.

`AirbyteStub` runs a `ThreadingHTTPServer` on a background thread, bound to a
loopback address, and implements the operations described in
``openapi/airbyte-openapi.yml``: createAccessToken, getConnection, createJob,
getJob, cancelJob and listJobs, and listConnections as Airbyte's own description
(``openapi/upstream/api_documentation_connections.yaml``) has it. Error answers use Airbyte's problem bodies
(``{status, type, title, detail, data}``, ``Content-Type: application/json``),
a body that does not deserialise gets 422 ``{"errorId"}``, and 429 uses the
rate limiter's ``{"message": ...}`` body without Retry-After.

It behaves as Airbyte's server code does (see the reference FACTS): a
connection belongs to a workspace, carries tags of that workspace, and has a
status (active unless a test says otherwise); a sync of
one that is not active is refused (409 state-conflict); a sync while any job
of the connection runs is refused (409 try-again-later); a reset is accepted
whatever runs and cancels it; `clear` is stored and reported as `reset`;
cancelling a job cancels the connection's current job, whatever the id;
lastUpdatedAt is given only once a job ended, duration once it started, rows
and bytes on syncs. listConnections filters, pages and links as the server does
(the facts and where they were read are above `_list_connections`).

Jobs follow scripts: a job's status starts at the first status of its script
and every GET /jobs/{jobId} moves it one step on; the last status repeats. A
job nobody polls to its end ends by itself `finish_after` seconds after it was
created. A timed job (`script_timed`) follows the clock instead. The clock is
the stub's `clock` (real time by default): every timestamp and the Date header
come from it, so a test can run a 30-day sync in a second.

Order in which a request is handled:

1. Routing to an operationId (unknown paths: 404, wrong method: 405).
2. The next queued `Fault` for that operation, if any. A status, disconnect
   or invalid-JSON fault answers in place of the operation, so a faulted
   createJob creates no job. A delay fault sleeps, then handling goes on.
   Faults come before authentication so that a test can queue one without
   thinking about tokens.
3. Authentication (not for createAccessToken), when credentials are set up.
4. The operation itself.

Secrets never leave the stub: recorded calls carry a redacted Authorization
marker such as ``Bearer <redacted:2>`` (token number 2 issued by this stub)
and a redacted ``client_secret``; request logging to stderr is switched off.
"""

from __future__ import annotations

import copy
import hmac
import http
import json
import logging
import re
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from arazzo_runtime.hosts import is_loopback

logger = logging.getLogger(__name__)

CREATE_ACCESS_TOKEN = "createAccessToken"
CREATE_JOB = "createJob"
GET_JOB = "getJob"
CANCEL_JOB = "cancelJob"
LIST_JOBS = "listJobs"
GET_CONNECTION = "getConnection"
LIST_CONNECTIONS = "listConnections"
OPERATION_IDS: tuple[str, ...] = (CREATE_ACCESS_TOKEN, CREATE_JOB, GET_JOB, CANCEL_JOB, LIST_JOBS, GET_CONNECTION, LIST_CONNECTIONS)
CONNECTION_STATUSES: tuple[str, ...] = ("active", "inactive", "deprecated", "locked")
# Airbyte deletes a connection by setting its status to deprecated; listConnections leaves
# those out unless includeDeleted is true.
DELETED_STATUS = "deprecated"
# A job nobody polls to its end ends by itself after this long (so a sync the run does not
# watch does not hold the connection forever, as a real one would not).
DEFAULT_FINISH_AFTER_SECONDS = 120.0
# What a succeeded sync reports it moved (rows, bytes), unless a test says otherwise.
DEFAULT_SYNC_STATS = (12_345, 6_789_012)
# The workspace of every connection no test or scenario places elsewhere.
WORKSPACE_ID = "5b7e6e6c-0000-4000-8000-00000000a1b2"
# Colours given to tags in turn (Airbyte stores whatever string the tag was created with).
TAG_COLORS: tuple[str, ...] = ("75DCFF", "FFB6C1", "C4A7FF", "9CE6B1", "FFD580", "FF8A80")

JOB_STATUSES: tuple[str, ...] = (
    "pending",
    "queued",
    "running",
    "incomplete",
    "failed",
    "succeeded",
    "cancelled",
)
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# Statuses in which the job has not started to run, so it has no duration yet.
NOT_STARTED_STATUSES = frozenset({"pending", "queued"})
JOB_TYPES: tuple[str, ...] = ("sync", "reset", "refresh", "clear")
# The public API lists refresh in JobTypeEnum but refuses to create one (422).
CREATABLE_JOB_TYPES = frozenset({"sync", "reset", "clear"})

DEFAULT_JOB_SCRIPTS: dict[str, tuple[str, ...]] = {
    "reset": ("pending", "running", "succeeded"),
    "clear": ("pending", "running", "succeeded"),
    "sync": ("running", "running", "succeeded"),
}

FIRST_JOB_ID = 1001
DEFAULT_BASE_PATH = "/api/public/v1"
RATE_LIMITED_BODY: dict[str, str] = {"message": "You are being rate limited."}
# Airbyte sorts jobs by creation time when orderBy is not given.
DEFAULT_ORDER_BY = ("createdAt", "DESC")
ORDER_BY_FIELDS = frozenset({"createdAt", "updatedAt"})

_UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_JAVA_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")
_REDACTED = "<redacted>"
_ERRORS_URL = "https://reference.airbyte.com/reference/errors"


@dataclass(frozen=True)
class ProblemType:
    """The constant part of one of Airbyte's problem bodies (api-problems.yaml)."""

    status: int
    type: str
    title: str
    detail: str


BAD_REQUEST = ProblemType(
    400,
    f"{_ERRORS_URL}#bad-request",
    "bad-request",
    "The request could not be understood by the server due to malformed syntax.",
)
INVALID_API_KEY = ProblemType(
    401,
    f"{_ERRORS_URL}#invalid-api-key",
    "invalid-api-key",
    "The API key in the Authorization header is invalid.",
)
FORBIDDEN = ProblemType(403, f"{_ERRORS_URL}#forbidden", "forbidden", "The request is forbidden.")
RESOURCE_NOT_FOUND = ProblemType(
    404,
    f"{_ERRORS_URL}#resource-not-found",
    "resource-not-found",
    "The requested resource could not be found.",
)
TRY_AGAIN_LATER = ProblemType(
    409, f"{_ERRORS_URL}#try-again-later", "try-again-later", "Please try again later."
)
STATE_CONFLICT = ProblemType(409, f"{_ERRORS_URL}#409-state-conflict", "state-conflict", "State conflict")
UNPROCESSABLE_ENTITY = ProblemType(
    422,
    f"{_ERRORS_URL}#unprocessable-entity",
    "unprocessable-entity",
    "The body of the request was not understood",
)
UNEXPECTED_PROBLEM = ProblemType(
    500,
    _ERRORS_URL,
    "unexpected-problem",
    "An unexpected problem has occurred. If this is an error that needs to be addressed, "
    "please submit a pull request or github issue.",
)
# 502 and 504 come from the gateway in front of Airbyte; api-problems.yaml has no
# entry for them, so they borrow the generic errors URL like 500 and 503 do.
BAD_GATEWAY = ProblemType(
    502, _ERRORS_URL, "bad-gateway", "The server received an invalid response from an upstream server."
)
SERVICE_UNAVAILABLE = ProblemType(
    503, _ERRORS_URL, "service-unavailable", "The server is currently unable to handle the request."
)
GATEWAY_TIMEOUT = ProblemType(
    504,
    _ERRORS_URL,
    "gateway-timeout",
    "The server did not receive a timely response from an upstream server.",
)
METHOD_NOT_ALLOWED = ProblemType(
    405, _ERRORS_URL, "method-not-allowed", "The method is not allowed for this resource."
)

_PROBLEM_BY_STATUS: dict[int, ProblemType] = {
    problem.status: problem
    for problem in (
        BAD_REQUEST,
        INVALID_API_KEY,
        FORBIDDEN,
        RESOURCE_NOT_FOUND,
        TRY_AGAIN_LATER,
        UNPROCESSABLE_ENTITY,
        UNEXPECTED_PROBLEM,
        BAD_GATEWAY,
        SERVICE_UNAVAILABLE,
        GATEWAY_TIMEOUT,
    )
}


def problem_body(problem: ProblemType, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An Airbyte problem body; `data` defaults to ``{"message": <detail>}``."""
    return {
        "status": problem.status,
        "type": problem.type,
        "title": problem.title,
        "detail": problem.detail,
        "data": dict(data) if data is not None else {"message": problem.detail},
    }


def _problem_for_status(code: int) -> ProblemType:
    known = _PROBLEM_BY_STATUS.get(code)
    if known is not None:
        return known
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = "Error"
    return ProblemType(code, _ERRORS_URL, phrase.lower().replace(" ", "-"), phrase)


FaultKind = Literal["status", "delay", "disconnect", "invalid_json", "truncated", "slow_answer"]


@dataclass(frozen=True)
class Fault:
    """Something to go wrong with one request; build with the classmethods."""

    kind: FaultKind
    status_code: int | None = None
    retry_after: str | None = None
    seconds: float = 0.0

    @classmethod
    def status(cls, code: int, retry_after: int | float | str | None = None) -> Fault:
        """Answer with `code` and the body Airbyte sends with it.

        400/401/403/404/422/500/503 get their problem bodies; 409 gets
        state-conflict on cancelJob and try-again-later elsewhere; 429 gets
        ``{"message": "You are being rate limited."}``; 502/504 get a problem
        body with that status. A Retry-After header is sent only when
        `retry_after` is given, as Airbyte never sends one.
        """
        if not 400 <= code <= 599:
            raise ValueError(f"fault status must be an HTTP error status (400-599), got {code}")
        if isinstance(retry_after, float) and retry_after.is_integer():
            retry_after = int(retry_after)
        return cls("status", status_code=code, retry_after=None if retry_after is None else str(retry_after))

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait `seconds`, then handle the request normally."""
        if seconds < 0:
            raise ValueError(f"delay must not be negative, got {seconds}")
        return cls("delay", seconds=float(seconds))

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls("disconnect")

    @classmethod
    def slow_answer(cls, seconds: float) -> Fault:
        """Handle the request normally (a createJob does create its job), then wait `seconds`
        before answering: what a client that gives up first sees as a read timeout."""
        if seconds < 0:
            raise ValueError(f"delay must not be negative, got {seconds}")
        return cls("slow_answer", seconds=float(seconds))

    @classmethod
    def truncated(cls) -> Fault:
        """Handle the request normally (a createJob does create its job), then send only
        half of the body with the full Content-Length and close: an answer cut off."""
        return cls("truncated")

    @classmethod
    def invalid_json(cls) -> Fault:
        """Answer 200 with ``Content-Type: application/json`` and a body that is not JSON."""
        return cls("invalid_json")


@dataclass(frozen=True)
class RecordedCall:
    """One request the stub received, with secrets redacted.

    `path` is relative to the base path (``/jobs/1001``); `status` is the
    status sent back, or 0 when the connection was dropped without answer.
    `authorization` is a marker such as ``Bearer <redacted:1>``: the number
    identifies the token this stub issued (1 for the first), ``api-token``
    the static token and ``unknown`` any other bearer token.
    """

    method: str
    path: str
    operation_id: str | None
    query: dict[str, str]
    body: Any
    status: int
    authorization: str | None = None
    # Every value of each query parameter (`query` keeps the first): how a client sent an
    # array such as workspaceIds, repeated or comma-separated (left out of equality, as
    # `query` already says what was asked).
    query_values: dict[str, list[str]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Tag:
    """A tag of a workspace, as a ConnectionResponse carries it. Its id follows from the
    workspace and the name, so a scenario names tags and an operator can compute their ids."""

    tag_id: str
    name: str
    color: str
    workspace_id: str

    def to_response(self) -> dict[str, str]:
        return {"tagId": self.tag_id, "name": self.name, "color": self.color, "workspaceId": self.workspace_id}


def tag_id(name: str, workspace_id: str = WORKSPACE_ID) -> str:
    """The id the stub gives the tag `name` of a workspace (the same in every run)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"airbyte-stub:tag:{_canonical_uuid(workspace_id)}:{name}"))


@dataclass
class _Connection:
    connection_id: str
    workspace_id: str = WORKSPACE_ID
    status: str = "active"
    tags: tuple[Tag, ...] = ()

    def to_response(self) -> dict[str, Any]:
        """The ConnectionResponse body: the fields the upstream schema requires."""
        return {
            "connectionId": self.connection_id,
            "name": f"Connection {self.connection_id[:8]}",
            "sourceId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"source:{self.connection_id}")),
            "destinationId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"destination:{self.connection_id}")),
            "workspaceId": self.workspace_id,
            "status": self.status,
            "schedule": {"scheduleType": "manual"},
            "configurations": {"streams": []},
            "createdAt": 1_700_000_000,
            "tags": [tag.to_response() for tag in self.tags],
        }


@dataclass
class _Job:
    job_id: int
    job_type: str
    connection_id: str
    script: tuple[str, ...]
    step: int
    status: str
    start_time: datetime
    last_updated_at: datetime
    # Orders updatedAt ties deterministically (several changes in one second).
    update_sequence: int
    now: Callable[[], datetime]
    # A job that nobody polls to its end ends by itself after this many seconds.
    finish_after: float
    # (status, seconds since creation at which it begins): a job that follows the clock, not its polls.
    timeline: tuple[tuple[str, float], ...] = ()
    cancelled_by_client: bool = False
    sync_stats: tuple[int, int] = (0, 0)  # rows, bytes a finished sync reports

    def set_status(self, status: str, update_sequence: int) -> None:
        if status != self.status:
            self.status = status
            self.last_updated_at = self.now()
            self.update_sequence = update_sequence

    def advance(self, update_sequence: int) -> None:
        """A poll: a scripted job moves one step on (a timed one follows the clock only)."""
        if self.cancelled_by_client or self.timeline:
            return
        self.step = min(self.step + 1, len(self.script) - 1)
        self.set_status(self.script[self.step], update_sequence)

    def settle(self, update_sequence: int) -> None:
        """What the clock alone does: a timed job takes the status of its age; a scripted one
        past `finish_after` jumps to the end of its script (if that end is terminal)."""
        if self.cancelled_by_client or self.status in TERMINAL_STATUSES:
            return
        age = (self.now() - self.start_time).total_seconds()
        if self.timeline:
            status, begins = [(status, begins) for status, begins in self.timeline if begins <= age][-1]
            if status != self.status:
                self.set_status(status, update_sequence)
                self.last_updated_at = self.start_time + timedelta(seconds=begins)  # when it changed, not when seen
        elif age >= self.finish_after and self.script[-1] in TERMINAL_STATUSES:
            self.step = len(self.script) - 1
            self.set_status(self.script[-1], update_sequence)

    def to_response(self) -> dict[str, Any]:
        """The JobResponse body, as the server fills it: lastUpdatedAt only once the job has
        ended; duration (a non-nullable string upstream) left out while it has not started;
        rows and bytes on a sync, from its attempts so far."""
        response: dict[str, Any] = {
            "jobId": self.job_id,
            "status": self.status,
            "jobType": self.job_type,
            "startTime": _format_timestamp(self.start_time),
            "connectionId": self.connection_id,
        }
        if self.status in TERMINAL_STATUSES:
            response["lastUpdatedAt"] = _format_timestamp(self.last_updated_at)
        if self.status not in NOT_STARTED_STATUSES:
            end = self.last_updated_at if self.status in TERMINAL_STATUSES else self.now()
            response["duration"] = _format_duration((end - self.start_time).total_seconds())
        if self.job_type == "sync":
            rows, size = self.sync_stats
            share = 0 if self.status in NOT_STARTED_STATUSES else 1 if self.status == "succeeded" else 0.5
            response["rowsSynced"], response["bytesSynced"] = int(rows * share), int(size * share)
        return response


class _Reply(Exception):
    """Raised inside an operation to answer with an error body."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _problem_reply(problem: ProblemType, data: Mapping[str, Any] | None = None) -> _Reply:
    return _Reply(problem.status, problem_body(problem, data))


@dataclass
class _Request:
    method: str
    path: str
    operation_id: str | None
    path_params: dict[str, str]
    query: dict[str, str]
    body: Any
    authorization: str | None
    allowed_methods: tuple[str, ...] = ()
    # Every value of each query parameter, in order (`query` keeps the first).
    query_values: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False
    truncate: bool = False  # send half the body under the full Content-Length, then close


class _StubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], stub: AirbyteStub, address_family: int) -> None:
        self.address_family = address_family
        self.stub = stub
        self.open_connections: set[socket.socket] = set()
        self.open_connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _StubHTTPServer
    # HTTP/1.1 keeps connections alive like a real server; every answer has a Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "AirbyteStub"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's
        # algorithm and the client's delayed ACK hold every answer back ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.open_connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.open_connections_lock:
                self.server.open_connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes every request line to stderr; the stub keeps quiet
        # and logs redacted summaries through `logging` instead.
        return

    def _dispatch(self) -> None:
        self.server.stub._handle(self)

    do_GET = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch
    do_PUT = _dispatch
    do_PATCH = _dispatch


# A job's script: its statuses, when it ends by itself if not polled, its timeline if timed.
_Script = tuple[tuple[str, ...], float | None, tuple[tuple[str, float], ...]]


class AirbyteStub:
    """Airbyte's public API (jobs and access tokens) on a loopback HTTP port.

    Authentication: with `client_id` and `client_secret` set, POST
    /applications/token must present them and /jobs* needs a bearer token it
    issued, valid for `token_lifetime` seconds. With `api_token` set, that
    static bearer token is accepted on /jobs* as well. With neither, /jobs*
    needs no token and /applications/token hands out tokens to anyone.

    `known_connections` limits createJob and getConnection to those connection
    ids (others get 404); None accepts any UUID. A connection is `active`, in the
    workspace WORKSPACE_ID and untagged until `set_connection_status` or
    `add_connection` says otherwise; listConnections lists the connections named
    in `known_connections` or described by those two, in that order.
    A job takes the next script queued for its connection (`script(...,
    connection_id=...)`), else the next for its type, else its type's default.
    `most_unfinished_jobs` records the most jobs unfinished at once. `job_scripts` replaces the default
    status sequence per job type. `clock` gives the current UTC time for every
    timestamp the stub writes (and its Date header), so a test can drive time.
    A job that nobody polls to its end ends by itself `finish_after` seconds
    (of that clock) after it was created.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str | None = None,
        client_secret: str | None = None,
        api_token: str | None = None,
        token_lifetime: int = 900,
        base_path: str = DEFAULT_BASE_PATH,
        known_connections: Iterable[str] | None = None,
        job_scripts: Mapping[str, Sequence[str]] | None = None,
        clock: Callable[[], datetime] | None = None,
        finish_after: float = DEFAULT_FINISH_AFTER_SECONDS,
        sync_stats: tuple[int, int] = DEFAULT_SYNC_STATS,
    ) -> None:
        if not is_loopback(host):
            # The stub has no real security; it must not be reachable from other machines.
            raise ValueError(f"the Airbyte stub only listens on a loopback address, not {host!r}")
        if (client_id is None) != (client_secret is None):
            raise ValueError("client_id and client_secret must be given together")
        if token_lifetime < 0:
            raise ValueError("token_lifetime must not be negative")
        self.host = host
        self.port = port
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_token = api_token
        self._token_lifetime = token_lifetime
        known = None if known_connections is None else [_canonical_uuid(c) for c in known_connections]
        self._known_connections = None if known is None else set(known)
        self._forgotten_connections: set[str] = set()
        # The connections a test or scenario described, in the order described: what
        # listConnections lists (a connection accepted only because any UUID is, is not listed).
        self._connections: dict[str, _Connection] = {
            connection_id: _Connection(connection_id) for connection_id in (known or ())
        }
        self._workspaces: set[str] = {WORKSPACE_ID}
        self._tags: dict[tuple[str, str], Tag] = {}
        self._clock = clock or _utc_now
        self._finish_after = finish_after
        self._sync_stats = sync_stats
        self._default_scripts = dict(DEFAULT_JOB_SCRIPTS)
        for job_type, statuses in (job_scripts or {}).items():
            self._default_scripts[job_type] = _checked_script(job_type, statuses)

        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._jobs: dict[int, _Job] = {}
        self._next_job_id = FIRST_JOB_ID
        self._update_sequence = 0
        # Per job type, the next jobs' scripts: (statuses, finish_after, timeline); per
        # (connection, job type), scripts that the connection's next jobs take first.
        self._queued_scripts: dict[str, deque[_Script]] = {}
        self._connection_scripts: dict[tuple[str, str], deque[_Script]] = {}
        # The most jobs unfinished at once (pending, queued, running or incomplete), overall
        # and per workspace: what bounds on concurrency are checked against.
        self._most_unfinished_jobs = 0
        self._most_unfinished_jobs_by_workspace: dict[str, int] = {}
        self._faults: dict[str, deque[Fault]] = {operation: deque() for operation in OPERATION_IDS}
        # token -> number (1, 2, ...) used in redacted markers; kept after expiry.
        self._token_numbers: dict[str, int] = {}
        # token -> monotonic time after which it is refused.
        self._token_expiry: dict[str, float] = {}

        self._server: _StubHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._bound_address: tuple[str, int] | None = None

    # ---- lifecycle ----

    def start(self) -> AirbyteStub:
        """Bind the port and serve on a background thread."""
        if self._server is not None:
            raise RuntimeError("the Airbyte stub is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _StubHTTPServer((self.host, self.port), self, family)
        self._server = server
        self._bound_address = (self.host, server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="airbyte-stub", daemon=True
        )
        self._thread.start()
        logger.debug("Airbyte stub listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = None
        self._thread = None
        server.shutdown()
        # Idle keep-alive connections would otherwise keep answering after stop().
        with server.open_connections_lock:
            connections = list(server.open_connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> AirbyteStub:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. ``http://127.0.0.1:8123/api/public/v1``."""
        if self._bound_address is None:
            raise RuntimeError("the Airbyte stub has not been started")
        host, port = self._bound_address
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return f"http://{netloc}{self.base_path}"

    # ---- test controls ----

    def script(
        self,
        job_type: str,
        statuses: Sequence[str],
        *,
        allow_unknown: bool = False,
        finish_after: float | None = None,
        connection_id: str | None = None,
    ) -> None:
        """Statuses of the next job created of `job_type` (queued: one script per job); each
        poll moves it one step on. A sync that makes several attempts is scripted with
        `incomplete` between them (`["running", "incomplete", "running", "succeeded"]`).
        `allow_unknown` lets a script use a status Airbyte does not define (yet), to test
        how a client copes with one; such responses no longer match the OpenAPI spec.
        `finish_after` overrides how long the job takes to end by itself when not polled.
        With `connection_id`, the script is that connection's next job of the type (taken
        before the scripts of any connection): how one connection of a fleet is made to fail."""
        checked = _checked_script(job_type, statuses, allow_unknown=allow_unknown)
        self._queue_script(job_type, (checked, finish_after, ()), connection_id)

    def _queue_script(self, job_type: str, script: _Script, connection_id: str | None) -> None:
        with self._lock:
            if connection_id is None:
                self._queued_scripts.setdefault(job_type, deque()).append(script)
            else:
                stored_type = "reset" if job_type == "clear" else job_type
                self._connection_scripts.setdefault((_canonical_uuid(connection_id), stored_type), deque()).append(script)

    def script_timed(self, job_type: str, timeline: Sequence[tuple[str, float]], *, connection_id: str | None = None) -> None:
        """The next job of `job_type` follows the clock, not its polls: each (status, seconds)
        holds for that many seconds, then the next begins; the last one stays. For long jobs
        under a test's clock, e.g. `[("running", 30 * 86400), ("succeeded", 0)]`."""
        statuses = _checked_script(job_type, [status for status, _ in timeline])
        begins, offset = [], 0.0
        for status, seconds in timeline:
            if seconds < 0:
                raise ValueError(f"a timeline's seconds must not be negative, got {seconds}")
            begins.append((status, offset))
            offset += seconds
        self._queue_script(job_type, (statuses, None, tuple(begins)), connection_id)

    def start_running_job(self, connection_id: str, job_type: str = "sync") -> int:
        """A job of `connection_id` that runs until cancelled, as one Airbyte's scheduler or
        someone in its UI started: what a run finds when the connection is busy. Its id."""
        _checked_script(job_type, ["running"])
        stored_type = "reset" if job_type == "clear" else job_type
        with self._lock:
            now = self._clock()
            job = _Job(
                job_id=self._next_job_id, job_type=stored_type, connection_id=_canonical_uuid(connection_id),
                script=("running",), step=0, status="running", start_time=now, last_updated_at=now,
                update_sequence=self._next_update_sequence(), now=self._clock, finish_after=self._finish_after,
                timeline=(), sync_stats=self._sync_stats,
            )
            self._next_job_id += 1
            self._jobs[job.job_id] = job
            self._note_unfinished_jobs()
            return job.job_id

    def set_connection_status(self, connection_id: str, status: str) -> None:
        """A connection's status as getConnection reports it (active, inactive, deprecated,
        locked); Airbyte refuses to sync a connection that is not active."""
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"connection status must be one of {CONNECTION_STATUSES}, got {status!r}")
        with self._lock:
            self._connection(_canonical_uuid(connection_id), create=True).status = status

    def add_connection(
        self,
        connection_id: str,
        *,
        status: str = "active",
        workspace_id: str = WORKSPACE_ID,
        tags: Iterable[str] = (),
    ) -> dict[str, Any]:
        """A connection that exists (even when `known_connections` did not name it), in a
        workspace, carrying the workspace's tags named in `tags`; listConnections lists it.
        Its ConnectionResponse body."""
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"connection status must be one of {CONNECTION_STATUSES}, got {status!r}")
        for name, value in (("connection_id", connection_id), ("workspace_id", workspace_id)):
            if not _UUID_PATTERN.fullmatch(value):
                raise ValueError(f"{name} must be a UUID, got {value!r}")
        if isinstance(tags, str):
            raise TypeError("tags must be a sequence of tag names, not a single string")
        connection_id, workspace_id = _canonical_uuid(connection_id), _canonical_uuid(workspace_id)
        with self._lock:
            self._forgotten_connections.discard(connection_id)
            if self._known_connections is not None:
                self._known_connections.add(connection_id)
            self._workspaces.add(workspace_id)
            connection = self._connection(connection_id, create=True)
            connection.status, connection.workspace_id = status, workspace_id
            connection.tags = tuple(self._tag(name, workspace_id) for name in dict.fromkeys(tags))
            return connection.to_response()

    def add_workspace(self, workspace_id: str) -> None:
        """A workspace that exists though none of its connections was described, so that
        listConnections lists it (empty) rather than refusing it as unknown."""
        if not _UUID_PATTERN.fullmatch(workspace_id):
            raise ValueError(f"workspace_id must be a UUID, got {workspace_id!r}")
        with self._lock:
            self._workspaces.add(_canonical_uuid(workspace_id))

    def tag_id(self, name: str, workspace_id: str = WORKSPACE_ID) -> str:
        """The id of the tag `name` of a workspace (see `tag_id` of this module)."""
        return tag_id(name, workspace_id)

    @property
    def connections(self) -> dict[str, dict[str, Any]]:
        """The described connections as ConnectionResponse bodies, by connectionId (a copy)."""
        with self._lock:
            return {cid: record.to_response() for cid, record in self._connections.items() if self._known(cid)}

    @property
    def most_unfinished_jobs(self) -> int:
        """The most jobs that were unfinished at one time (pending, queued, running or
        incomplete), across every connection: what a bound on concurrency is checked against."""
        with self._lock:
            return self._most_unfinished_jobs

    @property
    def most_unfinished_jobs_by_workspace(self) -> dict[str, int]:
        """The same, per workspace (a copy); a workspace that never had a job is absent."""
        with self._lock:
            return dict(self._most_unfinished_jobs_by_workspace)

    def forget_connection(self, connection_id: str) -> None:
        """Make `connection_id` unknown: createJob for it answers 404 from now on."""
        with self._lock:
            if self._known_connections is None:
                self._forgotten_connections.add(_canonical_uuid(connection_id))
            else:
                self._known_connections.discard(_canonical_uuid(connection_id))

    def inject(self, operation_id: str, *faults: Fault) -> None:
        """Queue faults for `operation_id`; each request to it consumes the next one."""
        if operation_id not in self._faults:
            raise ValueError(f"unknown operationId {operation_id!r}; expected one of {OPERATION_IDS}")
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"expected a Fault, got {fault!r}")
        with self._lock:
            self._faults[operation_id].extend(faults)

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (the static api_token stays valid)."""
        with self._lock:
            for token in self._token_expiry:
                self._token_expiry[token] = float("-inf")

    @property
    def calls(self) -> list[RecordedCall]:
        """Every request received so far, in order (a copy)."""
        with self._lock:
            return list(self._calls)

    def operations(self) -> list[str]:
        """The operationId of every call, in order; calls that matched no route are left out."""
        return [call.operation_id for call in self.calls if call.operation_id is not None]

    @property
    def jobs(self) -> dict[int, dict[str, Any]]:
        """Current job records as JobResponse bodies, by jobId (a copy)."""
        with self._lock:
            self._settle()
            return {job_id: job.to_response() for job_id, job in self._jobs.items()}

    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far: secret material, for tests that check it
        never leaks into logs, outputs or errors."""
        with self._lock:
            return list(self._token_numbers)

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self._calls.clear()

    def _connection(self, connection_id: str, *, create: bool = False) -> _Connection:
        """The record of a connection (one in the default workspace, active and untagged if
        none was described; stored only with `create`)."""
        record = self._connections.get(connection_id)
        if record is None:
            record = _Connection(connection_id)
            if create:
                self._connections[connection_id] = record
        return record

    def _tag(self, name: str, workspace_id: str) -> Tag:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a tag name must be a non-empty string, got {name!r}")
        key = (workspace_id, name)
        if key not in self._tags:
            color = TAG_COLORS[len(self._tags) % len(TAG_COLORS)]
            self._tags[key] = Tag(tag_id(name, workspace_id), name, color, workspace_id)
        return self._tags[key]

    def _note_unfinished_jobs(self) -> None:
        """After a job was created: the jobs unfinished now, if more than ever before (the
        count only grows when a job is created, so this sees every peak)."""
        unfinished = [job for job in self._jobs.values() if job.status not in TERMINAL_STATUSES]
        self._most_unfinished_jobs = max(self._most_unfinished_jobs, len(unfinished))
        by_workspace: dict[str, int] = {}
        for job in unfinished:
            workspace = self._connection(job.connection_id).workspace_id
            by_workspace[workspace] = by_workspace.get(workspace, 0) + 1
        for workspace, count in by_workspace.items():
            self._most_unfinished_jobs_by_workspace[workspace] = max(self._most_unfinished_jobs_by_workspace.get(workspace, 0), count)

    # ---- request handling ----

    def _handle(self, handler: _RequestHandler) -> None:
        request = self._read_request(handler)
        if request is None:
            return
        fault = self._next_fault(request.operation_id)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind not in ("truncated", "slow_answer"):
            response = self._fault_response(request, fault)
        else:
            response = self._respond(request)
            if fault is not None and fault.kind == "truncated":
                response = replace(response, truncate=True)
            elif fault is not None:
                time.sleep(fault.seconds)
        self._send(handler, request, response)

    def _read_request(self, handler: _RequestHandler) -> _Request | None:
        split = urlsplit(handler.path)
        query_values = parse_qs(split.query, keep_blank_values=True)
        query = {name: values[0] for name, values in query_values.items()}
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            # The body cannot be framed, so the connection cannot be reused either.
            handler.close_connection = True
            body = problem_body(BAD_REQUEST, {"message": "Invalid Content-Length header."})
            _write(handler, _json_response(400, body, {"Connection": "close"}))
            return None
        raw_body = handler.rfile.read(length) if length else b""
        path, operation_id, path_params, allowed = self._route(handler.command, split.path)
        return _Request(
            method=handler.command,
            path=path,
            operation_id=operation_id,
            path_params=path_params,
            query=query,
            body=_parse_body(raw_body, handler.headers.get("Content-Type")),
            authorization=handler.headers.get("Authorization"),
            allowed_methods=allowed,
            query_values=query_values,
        )

    def _route(self, method: str, full_path: str) -> tuple[str, str | None, dict[str, str], tuple[str, ...]]:
        """(path relative to the base path, operationId, path parameters, allowed methods)."""
        if self.base_path and not (full_path == self.base_path or full_path.startswith(self.base_path + "/")):
            return full_path, None, {}, ()
        path = full_path[len(self.base_path) :] or "/"
        segments = path.strip("/").split("/")
        if path == "/jobs":
            routes = {"GET": LIST_JOBS, "POST": CREATE_JOB}
            return path, routes.get(method), {}, tuple(routes)
        if len(segments) == 2 and segments[0] == "jobs" and segments[1] and not path.endswith("/"):
            routes = {"GET": GET_JOB, "DELETE": CANCEL_JOB}
            return path, routes.get(method), {"jobId": segments[1]}, tuple(routes)
        if path == "/applications/token":
            routes = {"POST": CREATE_ACCESS_TOKEN}
            return path, routes.get(method), {}, tuple(routes)
        if path == "/connections":
            routes = {"GET": LIST_CONNECTIONS}
            return path, routes.get(method), {}, tuple(routes)
        if len(segments) == 2 and segments[0] == "connections" and segments[1] and not path.endswith("/"):
            routes = {"GET": GET_CONNECTION}
            return path, routes.get(method), {"connectionId": segments[1]}, tuple(routes)
        return path, None, {}, ()

    def _next_fault(self, operation_id: str | None) -> Fault | None:
        if operation_id is None:
            return None
        with self._lock:
            queue = self._faults[operation_id]
            return queue.popleft() if queue else None

    def _fault_response(self, request: _Request, fault: Fault) -> _Response:
        if fault.kind == "disconnect":
            return _Response(0, b"", drop_connection=True)
        if fault.kind == "invalid_json":
            return _Response(200, b"{not json", {"Content-Type": "application/json"})
        assert fault.status_code is not None
        code = fault.status_code
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if code == 429:
            return _json_response(429, RATE_LIMITED_BODY, headers)
        if code == 409:
            problem = STATE_CONFLICT if request.operation_id == CANCEL_JOB else TRY_AGAIN_LATER
            return _json_response(409, problem_body(problem), headers)
        if code == 404:
            return _json_response(404, problem_body(RESOURCE_NOT_FOUND, _resource_of(request)), headers)
        if code == 422 and request.operation_id == GET_CONNECTION:
            return _json_response(422, {"errorId": str(uuid.uuid4())}, headers)
        return _json_response(code, problem_body(_problem_for_status(code)), headers)

    def _respond(self, request: _Request) -> _Response:
        try:
            if request.operation_id is None:
                if request.allowed_methods:
                    raise _Reply(
                        405,
                        problem_body(METHOD_NOT_ALLOWED),
                        {"Allow": ", ".join(request.allowed_methods)},
                    )
                raise _problem_reply(RESOURCE_NOT_FOUND, {"resourceType": "path", "resourceId": request.path})
            with self._lock:
                if request.operation_id == CREATE_ACCESS_TOKEN:
                    return _json_response(200, self._create_access_token(request))
                self._authenticate(request)
                self._settle()
                if request.operation_id == GET_CONNECTION:
                    return _json_response(200, self._get_connection(request))
                if request.operation_id == CREATE_JOB:
                    return _json_response(200, self._create_job(request))
                if request.operation_id == GET_JOB:
                    return _json_response(200, self._get_job(request))
                if request.operation_id == CANCEL_JOB:
                    return _json_response(200, self._cancel_job(request))
                if request.operation_id == LIST_CONNECTIONS:
                    return _json_response(200, self._list_connections(request))
                return _json_response(200, self._list_jobs(request))
        except _Reply as reply:
            return _json_response(reply.status, reply.body, reply.headers)
        except Exception:  # a bug in the stub must still produce an answer
            logger.exception("Airbyte stub failed on %s %s", request.method, request.path)
            return _json_response(500, problem_body(UNEXPECTED_PROBLEM))

    def _send(self, handler: _RequestHandler, request: _Request, response: _Response) -> None:
        call = RecordedCall(
            method=request.method,
            path=request.path,
            operation_id=request.operation_id,
            query=_redact_mapping(request.query),
            body=_redact_body(request.body, request.operation_id),
            status=response.status,
            authorization=self._redact_authorization(request.authorization),
            query_values={
                name: [_REDACTED] * len(values) if name == "client_secret" else list(values)
                for name, values in request.query_values.items()
            },
        )
        # Every answer says when, by the stub's clock (a client may count a job's age by it).
        response.headers.setdefault("Date", format_datetime(self._clock(), usegmt=True))
        # Recorded before answering, so a client sees the call as soon as it has the answer.
        with self._lock:
            self._calls.append(call)
        logger.debug(
            "%s %s -> %s (%s)", request.method, request.path, response.status or "dropped", request.operation_id
        )
        _write(handler, response)

    # ---- authentication ----

    def _auth_required(self) -> bool:
        return self._client_id is not None or self._api_token is not None

    def _authenticate(self, request: _Request) -> None:
        if not self._auth_required():
            return
        scheme, _, credential = (request.authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise _problem_reply(INVALID_API_KEY)
        if self._api_token is not None and _same_secret(credential, self._api_token):
            return
        expires_at = self._token_expiry.get(credential)
        if self._client_id is not None and expires_at is not None and time.monotonic() < expires_at:
            return
        raise _problem_reply(INVALID_API_KEY)

    def _create_access_token(self, request: _Request) -> dict[str, Any]:
        body = request.body
        if not isinstance(body, dict):
            raise _problem_reply(BAD_REQUEST, {"message": "Expected client_id and client_secret."})
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            raise _problem_reply(BAD_REQUEST, {"message": "client_id and client_secret are required."})
        grant_type = body.get("grant_type", "client_credentials")
        if grant_type != "client_credentials":
            raise _problem_reply(BAD_REQUEST, {"message": "grant_type must be client_credentials."})
        if self._client_id is not None:
            assert self._client_secret is not None
            valid = _same_secret(client_id, self._client_id) & _same_secret(client_secret, self._client_secret)
            if not valid:
                raise _problem_reply(INVALID_API_KEY, {"message": "Invalid client credentials."})
        elif self._api_token is not None:
            raise _problem_reply(INVALID_API_KEY, {"message": "No application is configured."})
        token = secrets.token_urlsafe(32)
        self._token_numbers[token] = len(self._token_numbers) + 1
        self._token_expiry[token] = time.monotonic() + self._token_lifetime
        return {"access_token": token, "token_type": "Bearer", "expires_in": self._token_lifetime}

    def _redact_authorization(self, header: str | None) -> str | None:
        if header is None:
            return None
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer":
            return f"{scheme} {_REDACTED}" if credential else _REDACTED
        with self._lock:
            number = self._token_numbers.get(credential)
        if number is not None:
            label = str(number)
        elif self._api_token is not None and _same_secret(credential, self._api_token):
            label = "api-token"
        else:
            label = "unknown"
        return f"Bearer <redacted:{label}>"

    # ---- connections ----

    def _known(self, connection_id: str) -> bool:
        return connection_id not in self._forgotten_connections and (
            self._known_connections is None or connection_id in self._known_connections
        )

    def _get_connection(self, request: _Request) -> dict[str, Any]:
        raw_id = request.path_params["connectionId"]
        if not _UUID_PATTERN.fullmatch(raw_id):
            raise _Reply(422, {"errorId": str(uuid.uuid4())})  # the id does not deserialise
        connection_id = _canonical_uuid(raw_id)
        if not self._known(connection_id):
            raise _problem_reply(RESOURCE_NOT_FOUND, {"resourceType": "connection", "resourceId": connection_id})
        return self._connection(connection_id).to_response()

    # listConnections as Airbyte's server answers it. Read in airbytehq/airbyte-platform (commit
    # 310e6cb) and in the Micronaut it runs on (micronaut-projects/micronaut-core), not run live:
    # - Array parameters (Micronaut's QueryValueArgumentBinder and DefaultMutableConversionService):
    #   a parameter given once is split on commas (`workspaceIds=a,b`); given several times, each
    #   value is one UUID (`workspaceIds=a&workspaceIds=b`), so a repeated value holding a comma is
    #   not a UUID. An empty value is skipped. A value that is not a UUID, a limit or offset that is
    #   not an integer, or a limit given twice fails conversion: 400 with Micronaut's own error body
    #   (airbyte-platform has no handler of its own for it).
    # - limit 1..100 (default 20) and offset >= 0 are bean-validation bounds on the generated
    #   controller (airbyte-api/server-api/src/main/openapi/config.yaml, kotlin-server jaxrs-spec
    #   templates): out of range, InvalidInputExceptionHandler (airbyte-commons-server .../errors/
    #   handlers/InvalidInputExceptionHandler.kt) answers 400 with only {"errorId"}.
    # - includeDeleted is true for true, yes, y or on (any case), false for anything else.
    # - Workspaces (airbyte-server .../publicapi/controllers/ConnectionsController.kt): given ones
    #   need the workspace_reader role, else 403 forbidden (RoleResolver.requireRole); so an unknown
    #   workspace is 403 for any caller but an instance admin (who gets an empty page). None given:
    #   every workspace the caller may read (publicapi/services/ConnectionService.kt).
    # - Filter (airbyte-data .../jooq/ConnectionServiceJooqImpl.kt listWorkspaceStandardSyncs-
    #   LimitOffsetPaginated): the source's workspace in workspaceIds; a connection with ANY of the
    #   tagIds (a join on connection_tag, grouped by connection: each connection once); deleted means
    #   status deprecated, left out unless includeDeleted. Inactive and locked ones are listed.
    # - Order: the query has no ORDER BY, so pages come in database order (not promised stable
    #   between pages); the handler then regroups each page by workspace (ConnectionsHandler.kt
    #   listConnectionsForWorkspaces, a HashMap of workspace to connections). The stub pages in the
    #   order connections were described and groups each page by workspace in order of appearance.
    # - next and previous (publicapi/mappers/ConnectionsResponseMapper.kt, PaginationMapper.kt):
    #   always present as strings, "" when absent (Jackson NON_ABSENT). next is set whenever the page
    #   is not empty (even the last one), to <api host>/v1/connections?includeDeleted=..&
    #   workspaceIds=a%2Cb&limit=L&offset=O+L: includeDeleted always, workspaceIds only if given
    #   (comma-joined, URL-encoded), tagIds never, so following next drops a tag filter. previous is
    #   "" at offset 0, else offset max(O-L, 0) on the same builder after next: limit appears twice
    #   (Micronaut's UriBuilder.queryParam appends), which the server then refuses (400) if followed.
    #   The api host of a self-managed Airbyte is <airbyteUrl>/api/public, so the links start with
    #   the stub's base URL.
    def _list_connections(self, request: _Request) -> dict[str, Any]:
        workspace_ids = _uuid_list_parameter(request, "workspaceIds")
        tag_ids = set(_uuid_list_parameter(request, "tagIds"))
        include_deleted = _single_value(request, "includeDeleted", "false").lower() in ("true", "yes", "y", "on")
        limit = _validated_int(request, "limit", default=20, minimum=1, maximum=100)
        offset = _validated_int(request, "offset", default=0, minimum=0, maximum=None)
        unknown = [workspace for workspace in workspace_ids if workspace not in self._workspaces]
        if unknown:
            raise _problem_reply(
                FORBIDDEN, {"message": "Caller does not have the required workspace_reader permissions to access the resource(s)."}
            )
        scope = set(workspace_ids) or self._workspaces
        matching = [
            connection
            for connection_id, connection in self._connections.items()
            if self._known(connection_id)
            and connection.workspace_id in scope
            and (include_deleted or connection.status != DELETED_STATUS)
            and (not tag_ids or any(tag.tag_id in tag_ids for tag in connection.tags))
        ]
        page = matching[offset : offset + limit]
        workspaces_in_order = list(dict.fromkeys(connection.workspace_id for connection in page))
        page.sort(key=lambda connection: workspaces_in_order.index(connection.workspace_id))
        link: list[tuple[str, str | int]] = [("includeDeleted", "true" if include_deleted else "false")]
        if workspace_ids:
            link.append(("workspaceIds", ",".join(workspace_ids)))
        next_url = self._connections_url([*link, ("limit", limit), ("offset", offset + limit)]) if page else ""
        limits = [("limit", limit)] * (2 if page else 1)
        previous_url = self._connections_url([*link, *limits, ("offset", max(offset - limit, 0))]) if offset else ""
        return {"previous": previous_url, "next": next_url, "data": [connection.to_response() for connection in page]}

    def _connections_url(self, parameters: list[tuple[str, str | int]]) -> str:
        return f"{self.url}/connections?{urlencode(parameters)}"

    # ---- jobs ----

    def _settle(self) -> None:
        """Let the clock act on every job (a timed job's status, a job that ends by itself)."""
        for job in self._jobs.values():
            job.settle(self._next_update_sequence())

    def _running(self, connection_id: str) -> list[_Job]:
        return [job for job in self._jobs.values() if job.connection_id == connection_id and job.status not in TERMINAL_STATUSES]

    def _create_job(self, request: _Request) -> dict[str, Any]:
        body = request.body
        connection_id = body.get("connectionId") if isinstance(body, dict) else None
        job_type = body.get("jobType") if isinstance(body, dict) else None
        if not isinstance(connection_id, str) or not _UUID_PATTERN.fullmatch(connection_id) or job_type not in JOB_TYPES:
            # A body that does not deserialise (malformed JSON, a missing field, an unknown
            # enum value, a connectionId that is no UUID): Airbyte answers with an error id only.
            raise _Reply(422, {"errorId": str(uuid.uuid4())})
        if job_type not in CREATABLE_JOB_TYPES:
            raise _problem_reply(UNPROCESSABLE_ENTITY, {"message": "Refreshes are not supported in the public API."})
        connection_id = _canonical_uuid(connection_id)
        if not self._known(connection_id):
            raise _problem_reply(RESOURCE_NOT_FOUND, {"resourceType": "connection", "resourceId": connection_id})
        stored_type = "reset" if job_type == "clear" else job_type  # stored as reset_connection
        running = self._running(connection_id)
        if stored_type == "sync":
            if self._connection(connection_id).status != "active":
                raise _problem_reply(STATE_CONFLICT, {"message": f"Connection {connection_id} is not active; it cannot be synced."})
            if running:
                raise _problem_reply(
                    TRY_AGAIN_LATER, {"message": f"A sync is already running for connection {connection_id}."}
                )
        else:
            # A reset is accepted whatever runs, and cancels it (a sync, or another reset).
            for job in running:
                job.cancelled_by_client = True
                job.set_status("cancelled", self._next_update_sequence())
        queued = (
            self._connection_scripts.get((connection_id, stored_type))
            or self._queued_scripts.get(stored_type)
            or self._queued_scripts.get(job_type)
        )
        script, finish_after, timeline = queued.popleft() if queued else (self._default_scripts[stored_type], None, ())
        now = self._clock()
        job = _Job(
            job_id=self._next_job_id,
            job_type=stored_type,
            connection_id=connection_id,
            script=script,
            step=0,
            status=script[0],
            start_time=now,
            last_updated_at=now,
            update_sequence=self._next_update_sequence(),
            now=self._clock,
            finish_after=self._finish_after if finish_after is None else finish_after,
            timeline=timeline,
            sync_stats=self._sync_stats,
        )
        self._next_job_id += 1
        self._jobs[job.job_id] = job
        self._note_unfinished_jobs()
        return job.to_response()

    def _find_job(self, request: _Request) -> _Job:
        raw_id = request.path_params["jobId"]
        try:
            job_id = int(raw_id)
        except ValueError:
            raise _problem_reply(BAD_REQUEST, {"message": f"jobId must be an integer, got {raw_id!r}."}) from None
        job = self._jobs.get(job_id)
        if job is None:
            raise _problem_reply(RESOURCE_NOT_FOUND, {"resourceType": "job", "resourceId": str(job_id)})
        return job

    def _get_job(self, request: _Request) -> dict[str, Any]:
        job = self._find_job(request)
        job.advance(self._next_update_sequence())
        return job.to_response()

    def _cancel_job(self, request: _Request) -> dict[str, Any]:
        """Airbyte cancels the connection's current job, whatever id was asked for."""
        asked = self._find_job(request)
        running = self._running(asked.connection_id)
        if not running:
            raise _problem_reply(
                STATE_CONFLICT, {"message": f"No job is running for connection {asked.connection_id}; nothing to cancel."}
            )
        job = max(running, key=lambda candidate: candidate.job_id)
        job.cancelled_by_client = True
        job.set_status("cancelled", self._next_update_sequence())
        return job.to_response()

    def _list_jobs(self, request: _Request) -> dict[str, Any]:
        query = request.query
        connection_id = query.get("connectionId")
        if connection_id is not None:
            if not _UUID_PATTERN.fullmatch(connection_id):
                raise _problem_reply(BAD_REQUEST, {"message": "connectionId must be a UUID."})
            connection_id = _canonical_uuid(connection_id)
        job_type = query.get("jobType")
        if job_type is not None and job_type not in JOB_TYPES:
            raise _problem_reply(BAD_REQUEST, {"message": f"Unknown jobType {job_type!r}."})
        status = query.get("status")
        if status is not None and status not in JOB_STATUSES:
            raise _problem_reply(BAD_REQUEST, {"message": f"Unknown status {status!r}."})
        limit = _int_parameter(query, "limit", default=20, minimum=1, maximum=100)
        offset = _int_parameter(query, "offset", default=0, minimum=0, maximum=None)
        order_field, order_direction = _parse_order_by(query.get("orderBy"))
        window = {name: _time_parameter(query, name) for name in TIME_FILTERS}

        matching = [
            job
            for job in self._jobs.values()
            if (connection_id is None or job.connection_id == connection_id)
            and (job_type is None or job.job_type == job_type)
            and (status is None or job.status == status)
            and _within(job.start_time, window["createdAtStart"], window["createdAtEnd"])
            and _within(job.last_updated_at, window["updatedAtStart"], window["updatedAtEnd"])
        ]
        if order_field == "createdAt":
            matching.sort(key=lambda job: job.job_id, reverse=order_direction == "DESC")
        else:
            matching.sort(key=lambda job: job.update_sequence, reverse=order_direction == "DESC")
        page = matching[offset : offset + limit]

        response: dict[str, Any] = {"data": [job.to_response() for job in page]}
        filters = {
            name: value
            for name, value in (
                ("connectionId", connection_id),
                ("jobType", job_type),
                ("status", status),
                ("orderBy", query.get("orderBy")),
                *((name, query.get(name)) for name in TIME_FILTERS),
            )
            if value is not None
        }
        if offset + limit < len(matching):
            response["next"] = self._jobs_url(filters, limit, offset + limit)
        if offset > 0:
            response["previous"] = self._jobs_url(filters, limit, max(offset - limit, 0))
        return response

    def _jobs_url(self, filters: Mapping[str, str], limit: int, offset: int) -> str:
        return f"{self.url}/jobs?{urlencode({**filters, 'limit': limit, 'offset': offset})}"

    def _next_update_sequence(self) -> int:
        self._update_sequence += 1
        return self._update_sequence


def serve(port: int, host: str = "127.0.0.1", prepare: Callable[[AirbyteStub], None] | None = None, **kwargs: Any) -> None:
    """Run the stub in the foreground until interrupted (Ctrl-C).

    Prints one line with the base URL, then one per tag of the described connections with
    its id. `kwargs` go to `AirbyteStub`; `prepare` sets the started stub up (a scenario)
    before the lines are printed.
    """
    stub = AirbyteStub(host=host, port=port, **kwargs)
    stub.start()
    if prepare is not None:
        prepare(stub)
    print(f"Airbyte stub listening on {stub.url}", flush=True)
    # The fleet's selection is by id: say which id each tag a scenario named has.
    tags = {tag["tagId"]: tag for connection in stub.connections.values() for tag in connection["tags"]}
    for tag in tags.values():
        print(f"Tag {tag['name']} of workspace {tag['workspaceId']}: tagId {tag['tagId']}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()


# ---- helpers ----


def _same_secret(given: str, expected: str) -> bool:
    # Constant-time, and safe for non-ASCII input (compare_digest refuses non-ASCII str).
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _canonical_uuid(value: str) -> str:
    return value.lower()


def _checked_script(job_type: str, statuses: Sequence[str], *, allow_unknown: bool = False) -> tuple[str, ...]:
    if job_type not in CREATABLE_JOB_TYPES:
        raise ValueError(f"no script for job type {job_type!r}; expected one of {sorted(CREATABLE_JOB_TYPES)}")
    if isinstance(statuses, str):
        raise TypeError("statuses must be a sequence of status names, not a single string")
    script = tuple(statuses)
    if not script:
        raise ValueError("a job script needs at least one status")
    unknown = [status for status in script if status not in JOB_STATUSES]
    if unknown and not allow_unknown:
        raise ValueError(f"unknown job statuses {unknown}; expected some of {JOB_STATUSES}")
    return script


def _parse_body(raw_body: bytes, content_type: str | None) -> Any:
    if not raw_body:
        return None
    text = raw_body.decode("utf-8", errors="replace")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return {name: values[0] for name, values in parse_qs(text, keep_blank_values=True).items()}
    if media_type in ("application/json", "") or media_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: (_REDACTED if name == "client_secret" else value) for name, value in values.items()}


def _redact_body(body: Any, operation_id: str | None) -> Any:
    if isinstance(body, dict):
        return _redact_mapping(body)
    if operation_id == CREATE_ACCESS_TOKEN and body is not None:
        # An unparsed token request may still carry the secret.
        return _REDACTED
    return copy.deepcopy(body)


def _resource_of(request: _Request) -> dict[str, str]:
    """ProblemResourceData for a 404 fault, naming what the request was about."""
    if "jobId" in request.path_params:
        return {"resourceType": "job", "resourceId": request.path_params["jobId"]}
    if request.operation_id == CREATE_JOB:
        connection_id = request.body.get("connectionId") if isinstance(request.body, dict) else None
        return {"resourceType": "connection", "resourceId": str(connection_id or "")}
    if request.operation_id == LIST_JOBS:
        return {"resourceType": "connection", "resourceId": request.query.get("connectionId", "")}
    if request.operation_id == LIST_CONNECTIONS:
        return {"resourceType": "workspace", "resourceId": request.query.get("workspaceIds", "").split(",")[0]}
    if "connectionId" in request.path_params:
        return {"resourceType": "connection", "resourceId": request.path_params["connectionId"]}
    return {"resourceType": "application", "resourceId": ""}


def _int_parameter(
    query: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int | None
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _problem_reply(BAD_REQUEST, {"message": f"{name} must be an integer."}) from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise _problem_reply(BAD_REQUEST, {"message": f"{name} must be {bounds}."})
    return value


def _conversion_error(name: str, value: str, reason: str) -> _Reply:
    """What Micronaut answers when a query value does not convert to the parameter's type."""
    message = f"Failed to convert argument [{name}] for value [{value}] due to: {reason}"
    return _Reply(400, {"message": "Bad Request", "_embedded": {"errors": [{"message": message}]}})


def _uuid_list_parameter(request: _Request, name: str) -> list[str]:
    """An array of UUIDs: one value split on commas, or several values of one UUID each."""
    given = request.query_values.get(name, [])
    items = given[0].split(",") if len(given) == 1 else given
    found = []
    for item in items:
        if not item:
            continue
        if not _UUID_PATTERN.fullmatch(item):
            raise _conversion_error(name, item, f"Invalid UUID string: {item}")
        found.append(_canonical_uuid(item))
    return found


def _single_value(request: _Request, name: str, default: str) -> str:
    given = request.query_values.get(name, [])
    if len(given) > 1:
        raise _conversion_error(name, str(given), "Cannot convert an iterable with more than 1 value to a non collection object")
    return given[0] if given and given[0] else default


def _validated_int(request: _Request, name: str, *, default: int, minimum: int, maximum: int | None) -> int:
    """An integer parameter with bean-validation bounds: 400 {"errorId"} when out of them."""
    raw = _single_value(request, name, str(default))
    # What Java's Integer.valueOf takes: no blanks or underscores, and within 32 bits.
    if not _JAVA_INTEGER.fullmatch(raw) or not -(2**31) <= int(raw) < 2**31:
        raise _conversion_error(name, raw, f'For input string: "{raw}"')
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        raise _Reply(400, {"errorId": str(uuid.uuid4())})
    return value


TIME_FILTERS = ("createdAtStart", "createdAtEnd", "updatedAtStart", "updatedAtEnd")


def _time_parameter(query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _problem_reply(BAD_REQUEST, {"message": f"{name} must be an ISO-8601 date-time."}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


def _parse_order_by(raw: str | None) -> tuple[str, str]:
    if raw is None:
        return DEFAULT_ORDER_BY
    order_field, separator, direction = raw.partition("|")
    direction = direction.upper() if separator else "ASC"
    if order_field not in ORDER_BY_FIELDS or direction not in ("ASC", "DESC"):
        raise _problem_reply(
            BAD_REQUEST, {"message": "orderBy must be createdAt or updatedAt, then |ASC or |DESC."}
        )
    return order_field, direction


def _json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> _Response:
    return _Response(
        status,
        json.dumps(body).encode("utf-8"),
        {"Content-Type": "application/json", **(headers or {})},
    )


def _write(handler: BaseHTTPRequestHandler, response: _Response) -> None:
    if response.drop_connection:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return
    try:
        # Not send_response: it adds a Date of its own (the real clock), and the stub's clock rules.
        handler.send_response_only(response.status)
        handler.send_header("Server", handler.version_string())
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        if response.truncate:
            handler.wfile.write(response.body[: len(response.body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(response.body)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _format_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _format_duration(seconds: float) -> str:
    """ISO-8601 duration such as PT1H2M3S (whole seconds, as Airbyte reports)."""
    total = max(int(seconds), 0)
    hours, remainder = divmod(total, 3600)
    minutes, secs = divmod(remainder, 60)
    parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if secs or not parts:
        parts += f"{secs}S"
    return f"PT{parts}"


__all__ = [
    "DEFAULT_JOB_SCRIPTS",
    "JOB_STATUSES",
    "JOB_TYPES",
    "OPERATION_IDS",
    "TERMINAL_STATUSES",
    "AirbyteStub",
    "Fault",
    "ProblemType",
    "RecordedCall",
    "problem_body",
    "serve",
]
