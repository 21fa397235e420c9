"""One HTTP client for the Airbyte public API, shared by every function.

It owns the transport policy: connect and read timeouts, bearer tokens (renewed before
expiry and once after a 401), and the classification of failures. It does not retry
transient trouble itself: it raises `TransientAirbyteError` and the state machine retries
with backoff, so waiting is cheap and visible in the execution history.

Non-transient HTTP answers (4xx other than 409 try-again-later and 429) are returned as an
`ApiResponse`, not raised: whether a status is a success is decided by the workflow's
successCriteria in the state machine.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from airbyte_client.auth import ClientCredentials
from airbyte_client.config import Settings
from airbyte_client.errors import AirbyteConfigurationError, InvalidAirbyteResponse, TransientAirbyteError
from arazzo_runtime import transport
from arazzo_runtime.evaluate import Response, SentRequest
from arazzo_runtime.http import retry_after_seconds
from arazzo_runtime.nodes import MISSING
from arazzo_runtime.payload import StepAnswer, StepPayload
from arazzo_runtime.step import step_answer

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers by which Airbyte refuses a request without acting on it (409 try-again-later too);
# after 500, 502 or 504 it may have acted.
REFUSING_STATUSES = frozenset({429, 503})
# Transport failures before the request went out.
NOTHING_SENT = frozenset({"refused", "unresolvable", "connect_timeout", "tls"})
# Airbyte answers 409 with this problem type while another job holds the connection.
TRY_AGAIN_LATER_TYPE = "try-again-later"
# Error bodies are carried into the execution's failure cause; keep them small.
MAX_ERROR_BODY_CHARS = 2000
# Only these response headers travel on from Airbyte (the Date tells a job's age by Airbyte's clock).
KEPT_HEADERS = ("content-type", "retry-after", "location", "date")
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Polling policy: read a running job again after a tenth of its age so far, so a finished
# job is noticed within 10% of its run time, but never wait longer than five minutes (or
# than the shortest interval the caller asked for, if that is longer).
POLL_AGE_FRACTION = 0.1
LONGEST_POLL_SECONDS = 300
# What poll_job tells the workflow besides Airbyte's answer: a job that has run longer than
# the caller allows (X-Max-Job-Seconds) and has not ended.
OVERDUE_HEADER = "x-job-overdue"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# What a job reports of its work, final only once it ended.
UNFINISHED_FIGURES = ("rowsSynced", "bytesSynced", "duration")


@dataclass(frozen=True)
class _Answer:
    """What came back over HTTP, before it is interpreted."""

    status_code: int
    headers: Mapping[str, str]  # names lower-cased
    content: bytes
    path: str  # the request's path and query, for messages


@dataclass(frozen=True)
class ApiResponse(Response):
    """Airbyte's answer, and the request that drew it (`request`, a `SentRequest`: what
    `$url`, `$method` and `$request` read in the step's outputs and criteria). The request
    never holds a credential: it is recorded without the Authorization header, and the
    token request is never recorded (see `AirbyteClient.sent`)."""

    def to_dict(self, payload: StepPayload | None = None) -> StepAnswer:
        """The answer as every step function returns it to the state machine, to the step
        payload it sent (criteria to evaluate, what to keep, loop counters)."""
        return step_answer(self, payload)


class AirbyteClient:
    """Calls over `arazzo_runtime.transport`: TLS always verified, no proxy from the
    environment, no redirect followed."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.requests_sent = 0

    # --- operations -------------------------------------------------------------------

    def create_job(self, connection_id: str, job_type: str) -> ApiResponse:
        return self._request("POST", "/jobs", "createJob", json_body={"connectionId": connection_id, "jobType": job_type}, read_timeout=self.settings.create_job_read_timeout)

    def job_created_above(self, connection_id: str, job_type: str, job_id: int) -> ApiResponse | None:
        """The first job of this type for this connection created after job `job_id`: the
        listing's answer, cut down to that job (its body) and still holding the listing's
        request."""
        answer = self.list_jobs(connectionId=connection_id, jobType=job_type, orderBy="createdAt|DESC", limit=5)
        if answer.status_code != 200 or not isinstance(answer.body, dict):
            raise TransientAirbyteError(f"listJobs: HTTP {answer.status_code} while looking for a job created by an earlier attempt")
        newer = [
            job for job in answer.body.get("data") or []
            if isinstance(job, dict) and job.get("jobType") == job_type and isinstance(job.get("jobId"), int) and job["jobId"] > job_id
        ]
        return replace(answer, body=min(newer, key=lambda job: job["jobId"])) if newer else None

    def get_job(self, job_id: int) -> ApiResponse:
        return self._request("GET", f"/jobs/{int(job_id)}", "getJob", path_parameters={"jobId": int(job_id)})

    def get_connection(self, connection_id: str) -> ApiResponse:
        return self._request("GET", f"/connections/{connection_id}", "getConnection", path_parameters={"connectionId": connection_id})

    def current_job(self, connection_id: str) -> dict[str, Any] | None:
        """The connection's newest job (a connection runs one job at a time, so a job still
        running is the newest), or None when it has none."""
        answer = self.list_jobs(connectionId=connection_id, orderBy="createdAt|DESC", limit=1)
        if answer.status_code != 200 or not isinstance(answer.body, dict):
            raise TransientAirbyteError(f"listJobs: HTTP {answer.status_code} while looking for the connection's current job")
        jobs = [job for job in answer.body.get("data") or [] if isinstance(job, dict)]
        return jobs[0] if jobs else None

    def poll_job(self, job_id: int, shortest_wait: int, max_job_seconds: int | None = None) -> ApiResponse:
        """Read a job, and propose when to read it again (as Retry-After, unless Airbyte sent
        one): `next_poll_seconds` of the job's age. The age is counted by Airbyte's clock (its
        Date header) where it sends one, so the two clocks need not agree. With
        `max_job_seconds`, say (X-Job-Overdue: true or false) whether a job that has not ended
        has run longer than that."""
        answer = self.get_job(job_id)
        if answer.status_code != 200 or not isinstance(answer.body, dict):
            return answer
        started = airbyte_timestamp(answer.body.get("startTime"))
        now = _http_date(answer.headers.get("date")) or datetime.now(UTC)
        age = (now - started).total_seconds() if started else 0.0
        body = answer.body
        if body.get("status") not in TERMINAL_STATUSES:
            # A job's figures are its result: a job that has not ended reports none, so a run
            # that does not watch its sync to the end shows no figures of a sync still running.
            body = {key: value for key, value in body.items() if key not in UNFINISHED_FIGURES}
        headers = dict(answer.headers)
        if retry_after_seconds(answer.headers) is None:  # Airbyte's own word wins
            headers["retry-after"] = str(next_poll_seconds(age, shortest_wait))
        if max_job_seconds is not None:
            overdue = answer.body.get("status") not in TERMINAL_STATUSES and age > max_job_seconds
            headers[OVERDUE_HEADER] = "true" if overdue else "false"
        return replace(answer, headers=headers, body=body)

    def cancel_job(self, job_id: int) -> ApiResponse:
        return self._request("DELETE", f"/jobs/{int(job_id)}", "cancelJob", path_parameters={"jobId": int(job_id)})

    def list_connections(
        self, *, workspace_ids: Sequence[str] = (), tag_ids: Sequence[str] = (), include_deleted: bool = False, limit: int = 20, offset: int = 0,
    ) -> ApiResponse:
        """One page of the connections of these workspaces (every workspace the credentials
        may read when none is given) carrying one of these tags (any when none), deleted ones
        only with `include_deleted`: `limit` (1 to 100) connections from `offset`.

        An array goes as OpenAPI's default query style says (form, exploded), the name
        repeated: workspaceIds=a&workspaceIds=b. Airbyte's server reads it so: its public
        API interface is generated from that description as JAX-RS (airbyte-platform,
        airbyte-api/public-api/build.gradle.kts: kotlin-server, library jaxrs-spec), whose
        `@QueryParam` list takes one value per occurrence, and
        airbyte-server/src/main/kotlin/io/airbyte/server/apis/publicapi/controllers/
        ConnectionsController.kt listConnections receives it as List<UUID>. The answer's `next` is not for
        following: Airbyte sets it whenever the page had any connection (offset + limit)
        and "" only after an empty page, and it leaves tagIds out
        (.../publicapi/mappers/PaginationMapper.kt getNextUrl, ConnectionsResponseMapper.kt);
        the next page is the next offset."""
        params: dict[str, Any] = {
            "workspaceIds": list(workspace_ids),
            "tagIds": list(tag_ids),
            # A Python bool would be sent as True; the server reads JSON's spelling.
            "includeDeleted": "true" if include_deleted else "false",
            "limit": int(limit),
            "offset": int(offset),
        }
        return self._request("GET", "/connections", "listConnections", params=params)

    def list_jobs(self, **filters: Any) -> ApiResponse:
        params = {key: value for key, value in filters.items() if value is not None}
        return self._request("GET", "/jobs", "listJobs", params=params)

    # --- transport --------------------------------------------------------------------

    def _request(self, method: str, path: str, operation: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None,
                 read_timeout: float | None = None, path_parameters: Mapping[str, Any] | None = None) -> ApiResponse:
        auth = self.settings.auth
        response = self._send(method, path, operation, json_body, params, auth.authorization(self._fetch_token), read_timeout)
        if response.status_code == 401 and auth.invalidate():
            # A token can expire before its announced lifetime: renew once and try again.
            response = self._send(method, path, operation, json_body, params, auth.authorization(self._fetch_token), read_timeout)
        sent = self.sent(method, path, json_body, params, path_parameters)
        return self._interpret(method, operation, response, sent)

    def sent(self, method: str, path: str, json_body: Any, params: Mapping[str, Any] | None, path_parameters: Mapping[str, Any] | None) -> SentRequest:
        """The request as `$url`, `$method` and `$request` read it: the full URL with its
        query, the headers as sent except Authorization (a credential: left out, so
        `$request.header.Authorization` never resolves), the query and path parameters as
        given (one with no value is not sent and left out), the body (MISSING when none)."""
        return SentRequest(
            method=method,
            url=self.settings.api_url + _target(path, params),
            headers=_headers(None, json_body is not None),
            query={name: value for name, value in (params or {}).items() if value is not None and value != []},
            path=dict(path_parameters or {}),
            body=MISSING if json_body is None else json_body,
        )

    def _send(self, method: str, path: str, operation: str, json_body: Any, params: Mapping[str, Any] | None, authorization: str | None, read_timeout: float | None = None) -> _Answer:
        headers = _headers(authorization, json_body is not None)
        body = None if json_body is None else json.dumps(json_body).encode("utf-8")
        target = _target(path, params)
        self.requests_sent += 1
        try:
            timeouts = (self.settings.connect_timeout, read_timeout or self.settings.read_timeout)
            with transport.send(method, self.settings.api_url + target, headers=headers, body=body, timeouts=timeouts) as answer:
                content = answer.read_all()
        except transport.TransportError as exc:
            if exc.kind == "tls":
                # Not transient: no retry makes a certificate verifiable.
                raise AirbyteConfigurationError(f"{operation} ({method} {path}): {self._unreachable(exc, read_timeout)}") from None
            if exc.kind == "cut_off":
                # The answer was cut off. Reading again is safe; sending a POST again could create a second job.
                error = TransientAirbyteError if method in SAFE_METHODS else InvalidAirbyteResponse
                raise error(f"{operation} ({method} {path}): the response was cut off ({exc.cause})") from None
            raise TransientAirbyteError(f"{operation} ({method} {path}): {self._unreachable(exc, read_timeout)}",
                                        changed_nothing=exc.kind in NOTHING_SENT) from None
        return _Answer(answer.status, answer.headers, content, target)

    def _unreachable(self, exc: transport.TransportError, read_timeout: float | None) -> str:
        """What went wrong reaching Airbyte, naming the host and what to check (never the URL's
        other parts: the URL is the operator's, the message goes to logs and causes)."""
        url = urllib.parse.urlsplit(self.settings.api_url)
        host = url.hostname or "?"
        where = f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        kind = exc.kind
        if kind == "connect_timeout":
            return f"timed out: no connection to {where} within {self.settings.connect_timeout:g} s; check the network path to it (VPC, security groups, firewall)"
        if kind == "read_timeout":
            return f"timed out: {where} did not answer within {read_timeout or self.settings.read_timeout:g} s; Airbyte may be overloaded"
        if kind == "unresolvable":
            return f"connection failed: cannot resolve the host {host}; check the Airbyte URL's host name"
        if kind == "refused":
            return f"connection failed: refused by {where}; is Airbyte running there, and is the Airbyte URL right?"
        if kind == "tls":
            return (f"the certificate of {where} could not be verified against the public certificate authorities; "
                    "check the Airbyte URL's host name, and that its certificate is not self-signed or from a private authority")
        if kind == "dropped":
            return f"connection failed: {where} closed the connection before answering"
        return f"connection failed: {where} ({exc.cause})"

    def _interpret(self, method: str, operation: str, response: _Answer, sent: SentRequest) -> ApiResponse:
        status = response.status_code
        body = _parse_body(response)
        where = f"{operation} ({method} {urllib.parse.urlsplit(self.settings.api_url).path.rstrip('/')}{response.path})"
        if status in TRANSIENT_STATUSES or (status == 409 and _problem_type(body).endswith(TRY_AGAIN_LATER_TYPE)):
            retry_after = response.headers.get("retry-after")
            hint = f", Retry-After {retry_after}" if retry_after else ""
            raise TransientAirbyteError(f"{where}: HTTP {status} {_problem_summary(body)}{hint}".rstrip(), changed_nothing=status in REFUSING_STATUSES or status == 409)
        if body is _UNREADABLE:
            if method in SAFE_METHODS:
                raise TransientAirbyteError(f"{where}: HTTP {status} with a body that is not JSON")
            raise InvalidAirbyteResponse(f"{where}: HTTP {status} with a body that is not JSON")
        if status >= 300:
            body = _bounded(body)
        headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        return ApiResponse(status, headers, body, sent)

    def _fetch_token(self, credentials: ClientCredentials) -> tuple[str, float]:
        """Exchange client credentials for an access token: (token, seconds until expiry)."""
        payload = {
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "grant_type": "client_credentials",
        }
        response = self._send("POST", "/applications/token", "createAccessToken", payload, None, None)
        if response.status_code in TRANSIENT_STATUSES:
            raise TransientAirbyteError(f"createAccessToken: HTTP {response.status_code}")
        body = _parse_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            # Never echo the body: a misbehaving server could reflect the secret.
            raise AirbyteConfigurationError(f"createAccessToken: HTTP {response.status_code}: the client credentials were not accepted")
        expires_in = body.get("expires_in")
        return body["access_token"], float(expires_in) if isinstance(expires_in, (int, float)) else 180.0


_UNREADABLE = object()


def _headers(authorization: str | None, has_body: bool) -> dict[str, str]:
    """The headers of a request to Airbyte; without `authorization`, those a step's `$request`
    reads (every one but the credential)."""
    headers = {"Accept": "application/json", "User-Agent": "airbyte-resync"}
    if authorization:
        headers["Authorization"] = authorization
    if has_body:
        headers["Content-Type"] = "application/json"
    return headers


def _target(path: str, params: Mapping[str, Any] | None) -> str:
    """The path and query a request is sent to (an array as the name repeated)."""
    return path + (f"?{urllib.parse.urlencode(params, doseq=True)}" if params else "")


def next_poll_seconds(age_seconds: float, shortest_wait: int) -> int:
    """Seconds to wait before reading a job of this age again."""
    return max(int(shortest_wait), min(int(max(age_seconds, 0) * POLL_AGE_FRACTION), LONGEST_POLL_SECONDS))


def _http_date(value: Any) -> datetime | None:
    """An HTTP Date header (RFC 7231), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def airbyte_timestamp(value: Any) -> datetime | None:
    """Airbyte's startTime (a Java OffsetDateTime: seconds may be missing), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_body(response: _Answer) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:  # not JSON, or not UTF-8
        return _UNREADABLE


def _problem_type(body: Any) -> str:
    return str(body.get("type", "")) if isinstance(body, dict) else ""


def _problem_summary(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key]) for key in ("title", "detail", "message") if body.get(key)]
    return ": ".join(parts)[:300]


def _bounded(body: Any) -> Any:
    text = json.dumps(body)
    if len(text) <= MAX_ERROR_BODY_CHARS:
        return body
    return {"truncated": text[:MAX_ERROR_BODY_CHARS]}
