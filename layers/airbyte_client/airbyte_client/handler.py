"""What every function shares around its one Airbyte call: reading the step payload the
state machine sends (arazzo_runtime.payload), validating it before any call to Airbyte,
observability, and a client reused across warm invocations (so its access token is too)."""

from __future__ import annotations

import functools
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from airbyte_client.client import TERMINAL_STATUSES, AirbyteClient, ApiResponse, airbyte_timestamp
from airbyte_client.config import load_settings
from airbyte_client.errors import AirbyteError, InvalidInput, TransientAirbyteError, UnsupportedOperation
from airbyte_client.ids import UUID_PATTERN
from arazzo_runtime.errors import InvalidRequest, LoopAgain, OperationError
from arazzo_runtime.evaluate import CriterionError
from arazzo_runtime.http import prepared_body
from arazzo_runtime.payload import LoopCounter, OperationRequest, Pages, StepAnswer, StepPayload, json_type, parse_payload
from arazzo_runtime.step import check_criteria, step_answer

# No Powertools Tracer: Lambda's active tracing (Tracing: Active) records each invocation
# without the X-Ray SDK, which would bring botocore into the layer and slow the cold import.
logger = Logger()
metrics = Metrics()
# An invocation with nothing to count (a job status change that concerns no run) is normal
# here: Powertools' warning about it would be a line of noise in every such log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

MAX_JOB_ID = 2**63 - 1
# The newest job id the run saw before a trigger's first attempt: a retried trigger adopts
# only a job created after it (see airbyte_client.adoption).
ADOPT_ABOVE_HEADER = "X-Adopt-Above-Job-Id"
_clients: dict[tuple[str, str], AirbyteClient] = {}


@dataclass(frozen=True)
class StepRequest:
    """The request a workflow step sends, as compiled from the Arazzo document."""

    step: str
    operation_id: str
    path_parameters: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    retrying_since: datetime | None = None  # when the run began, if this attempt is a retry
    execution_id: str | None = None  # the execution's ARN, when Step Functions invoked the step
    loop_passes: int = 0  # the passes of the step's loops so far in this execution (the payload's `loops`)
    pages: Pages | None = None  # the step's x-pages: the function follows every page (arazzo_runtime.pages)

    @classmethod
    def from_payload(cls, payload: StepPayload, operation_id: str) -> StepRequest:
        """The request of a payload read by `read_payload`, for the function that performs
        `operation_id` (`UnsupportedOperation` for another)."""
        step = payload.step
        if payload.operation_id != operation_id:
            raise UnsupportedOperation(f"{step}: this function performs {operation_id}, not {payload.operation_id!r}")
        request = payload.request
        return cls(
            step, operation_id, dict(request.get("pathParameters", {})), dict(request.get("query", {})), dict(request.get("headers", {})),
            _body(step, request), _retry_start(payload), payload.execution_id, _loop_passes(payload.loops), payload.pages,
        )

    # --- validation helpers: each names the field and the problem, never guesses ---------

    def body_field(self, name: str) -> Any:
        if not isinstance(self.body, dict):
            raise InvalidInput(f"{self.step}: the request body must be a JSON object, not {json_type(self.body)}")
        if name not in self.body or self.body[name] is None:
            raise InvalidInput(f"{self.step}: {name} is required")
        return self.body[name]

    def body_uuid(self, name: str) -> str:
        value = self.body_field(name)
        if not isinstance(value, str):
            raise InvalidInput(f"{self.step}: {name} must be a string (a UUID), not {json_type(value)}")
        if not UUID_PATTERN.fullmatch(value):
            raise InvalidInput(f"{self.step}: {name} must be a UUID like 0b5f7c8e-0000-4000-8000-000000000000, got {_preview(value)}")
        return value.lower()

    def body_equals(self, name: str, expected: str) -> str:
        value = self.body_field(name)
        if value != expected:
            raise UnsupportedOperation(f"{self.step}: this function only sends {name}={expected!r}, not {_preview(value)}")
        return expected

    def query_uuid(self, name: str) -> str:
        value = self.query.get(name)
        if value is None:
            raise InvalidInput(f"{self.step}: query parameter {name} is required")
        if not isinstance(value, str):
            raise InvalidInput(f"{self.step}: {name} must be a string (a UUID), not {json_type(value)}")
        if not UUID_PATTERN.fullmatch(value):
            raise InvalidInput(f"{self.step}: {name} must be a UUID like 0b5f7c8e-0000-4000-8000-000000000000, got {_preview(value)}")
        return value.lower()

    def query_limit(self, name: str = "limit", maximum: int = 100) -> int:
        value = self.query.get(name, maximum)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            raise InvalidInput(f"{self.step}: query parameter {name} must be an integer from 1 to {maximum}, got {_preview(value)}")
        return value

    def query_uuids(self, name: str) -> list[str]:
        """A list of UUIDs (one, or none when absent or null: the workflow's input left out)."""
        return self._uuids(f"query parameter {name}", self.query.get(name))

    def header_uuids(self, name: str) -> list[str]:
        """A list of UUIDs passed as a request header by the workflow (none when absent or
        null: an input left out)."""
        return self._uuids(f"header {name}", self.header(name))

    def _uuids(self, field: str, value: Any) -> list[str]:
        if value is None:
            return []
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str) or not UUID_PATTERN.fullmatch(item):
                raise InvalidInput(f"{self.step}: {field} must be a list of UUIDs like 0b5f7c8e-0000-4000-8000-000000000000, got {_preview(item)}")
        return [item.lower() for item in values]

    def header(self, name: str) -> Any:
        """A request header the workflow passes, by its name in any case; None when absent."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def query_flag(self, name: str, default: bool = False) -> bool:
        value = self.query.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidInput(f"{self.step}: query parameter {name} must be true or false, got {_preview(value)}")
        return value

    def query_offset(self, name: str = "offset") -> int:
        value = self.query.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31 - 1:
            raise InvalidInput(f"{self.step}: query parameter {name} must be an integer from 0 to {2**31 - 1}, got {_preview(value)}")
        return value

    def header_seconds(self, name: str, default: int | None, maximum: int = 3600) -> int | None:
        """A whole number of seconds (0 to `maximum`) passed as a request header by the
        workflow; `default` when it is absent (or null: an input left out)."""
        value = self.header(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= maximum:
            raise InvalidInput(f"{self.step}: header {name} must be a number of seconds from 0 to {maximum}, got {_preview(value)}")
        return int(value)

    def adopt_above(self, name: str = ADOPT_ABOVE_HEADER) -> int | None:
        """The newest job id the run saw before this step, from the workflow's header: 0 when
        the header is there but null (the run saw no job, so any job created since is newer),
        None when the workflow sends no such header (no job can be told to be the run's)."""
        present = [v for k, v in self.headers.items() if k.lower() == name.lower()]
        if not present:
            return None
        value = present[0]
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_JOB_ID:
            raise InvalidInput(f"{self.step}: header {name} must be a job id (a positive integer) or null, got {_preview(value)}")
        return value

    def path_uuid(self, name: str) -> str:
        value = self.path_parameters.get(name)
        if value is None:
            raise InvalidInput(f"{self.step}: path parameter {name} is required")
        if not isinstance(value, str):
            raise InvalidInput(f"{self.step}: path parameter {name} must be a string (a UUID), not {json_type(value)}")
        if not UUID_PATTERN.fullmatch(value):
            raise InvalidInput(f"{self.step}: path parameter {name} must be a UUID like 0b5f7c8e-0000-4000-8000-000000000000, got {_preview(value)}")
        return value.lower()

    def path_job_id(self, name: str = "jobId") -> int:
        if name not in self.path_parameters or self.path_parameters[name] is None:
            raise InvalidInput(f"{self.step}: path parameter {name} is required")
        value = self.path_parameters[name]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidInput(f"{self.step}: path parameter {name} must be an integer, not {json_type(value)}")
        if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,19}", value):
            raise InvalidInput(f"{self.step}: path parameter {name} must be an integer, got {_preview(value)}")
        job_id = int(value)
        if not 0 < job_id <= MAX_JOB_ID:
            raise InvalidInput(f"{self.step}: path parameter {name} must be a positive 64-bit integer, got {job_id}")
        return job_id


# A function's own work: validate the request, then make its one call through the client factory.
StepPerformer = Callable[[StepRequest, Callable[[], AirbyteClient]], ApiResponse]


def airbyte_client() -> AirbyteClient:
    """The client for the configured Airbyte, reused while URL and credentials stay the same."""
    settings = load_settings()
    key = (settings.api_url, settings.auth.fingerprint)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = AirbyteClient(settings)
    return client


TERMINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def cancel_jobs_left_running(job_ids: list[int], execution_arn: str) -> dict[str, Any]:
    """For a run that ended (failed, stopped or timed out) with these Airbyte jobs: cancel
    each reset that has not ended, nobody watching it any more, but only while it is its
    connection's current job (Airbyte's DELETE /jobs/{id} cancels the connection's current
    job, whatever the id). A sync is never cancelled: it is what refills the destination.
    Report what was done, and the connections whose destination the run left empty: a reset
    that succeeded with no sync after it, or one that had not ended (it may have cleared
    part of the destination, or may still clear it)."""
    client = airbyte_client()
    cancelled, finished, kept, jobs = [], [], [], []
    for job_id in job_ids:
        current = client.get_job(job_id)
        body = current.body if isinstance(current.body, dict) else {}
        status = body.get("status")
        jobs.append(body)
        if current.status_code != 200 or status in TERMINAL_JOB_STATUSES:
            finished.append({"jobId": job_id, "status": status, "statusCode": current.status_code})
            continue
        if body.get("jobType") == "sync":
            kept.append({"jobId": job_id, "status": status, "why": "a sync refills the destination: it runs on, unwatched"})
            continue
        connection_id = body.get("connectionId")
        running = client.current_job(connection_id) if isinstance(connection_id, str) and connection_id else None
        if not running or running.get("jobId") != job_id:
            kept.append({"jobId": job_id, "status": status, "why": f"the connection's current job is {running.get('jobId') if running else 'none'}, not this reset"})
            continue
        answer = client.cancel_job(job_id)
        cancelled.append({"jobId": job_id, "was": status, "statusCode": answer.status_code})
        metrics.add_metric(name="JobsCancelled", unit=MetricUnit.Count, value=1)
    logger.info("jobs of an execution that ended", extra={"executionArn": execution_arn, "cancelled": cancelled, "finished": finished, "kept": kept})
    left_reset = destinations_left_reset(jobs)
    if left_reset:
        # The worst outcome: counted apart, so that the destination's own alarm fires, not
        # only the failure alarm.
        metrics.add_metric(name="DestinationLeftReset", unit=MetricUnit.Count, value=len(left_reset))
        logger.error(
            "the run ended after its reset and before a sync refilled it: the destination is empty; start a sync of the connection once no reset runs",
            extra={"executionArn": execution_arn, "connectionIds": left_reset},
        )
    return {"cancelled": cancelled, "finished": finished, "kept": kept, "destinationLeftReset": left_reset}


def destinations_left_reset(jobs: list[dict[str, Any]]) -> list[str]:
    """Connections among these jobs with a reset that succeeded or had not ended (as the run
    knew it), and no sync after it."""
    def connections(job_type: str, statuses: frozenset[str] | None = None) -> set[Any]:
        return {
            job.get("connectionId") for job in jobs
            if job.get("jobType") == job_type and (statuses is None or job.get("status") in statuses)
        }

    unfinished_or_succeeded = frozenset({"pending", "queued", "running", "incomplete", "succeeded"})
    return sorted(connections("reset", unfinished_or_succeeded) - connections("sync") - {None})


def forget_clients() -> None:
    """Drop the cached clients (and their tokens), as a cold start would."""
    _clients.clear()


# How long a step's answer is remembered for its retries: longer than any execution retries a step.
IDEMPOTENCY_HOURS = 24
_persistence_layers: dict[str, Any] = {}


def once_per_step(payload: StepPayload, context: Any, compute: Callable[[], StepAnswer]) -> StepAnswer:
    """Run `compute` once per (execution, step): a retried invocation whose first attempt
    succeeded (its answer lost to a Lambda or Step Functions hiccup) gets the same answer,
    so Airbyte never sees the job created twice. Records live in the DynamoDB table named by
    IDEMPOTENCY_TABLE (Powertools Idempotency); without it, or without an execution id,
    `compute` just runs."""
    table = os.environ.get("IDEMPOTENCY_TABLE", "").strip()
    if not table or payload.execution_id is None:
        return compute()
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    if table not in _persistence_layers:
        _persistence_layers[table] = DynamoDBPersistenceLayer(table_name=table)
    config = IdempotencyConfig(event_key_jmespath="[executionId, step]", expires_after_seconds=IDEMPOTENCY_HOURS * 3600)
    if context is not None:
        config.register_lambda_context(context)

    @idempotent_function(data_keyword_argument="attempt", persistence_store=_persistence_layers[table], config=config)  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
    def first_attempt(attempt: dict[str, str]) -> StepAnswer:
        return compute()

    try:
        answer: StepAnswer = first_attempt(attempt={"executionId": payload.execution_id, "step": payload.step})
        return answer
    except IdempotencyAlreadyInProgressError:
        # An earlier attempt of this very step is still running: wait for it, through the
        # state machine's retry of transient errors, rather than create a second job.
        raise TransientAirbyteError(f"{payload.step}: an earlier attempt of this step is still in progress") from None


def read_payload(event: Any) -> StepPayload:
    """The step payload of the event (arazzo_runtime.payload): a malformed one is
    `InvalidInput`, as every bad input of these functions; one of another version stays
    `PayloadVersionMismatch`."""
    try:
        return parse_payload(event)
    except InvalidRequest as error:
        raise InvalidInput(str(error)) from None


def step_function(operation_id: str, *, idempotent: bool = False) -> Callable[[StepPerformer], Callable[[Any, Any], StepAnswer]]:
    """Make `perform(request, client_factory) -> ApiResponse` a Lambda handler returning
    the step's answer (arazzo_runtime.step). `perform` validates its request before asking
    for the client, so bad input never reaches Airbyte. With `idempotent`, the call happens
    once per execution and step (see `once_per_step`)."""

    def decorate(perform: StepPerformer) -> Callable[[Any, Any], StepAnswer]:
        @logger.inject_lambda_context(correlation_id_path="executionId", clear_state=True)
        @metrics.log_metrics
        @functools.wraps(perform)
        def lambda_handler(event: Any, context: Any) -> StepAnswer:
            started = time.monotonic()

            def answer(payload: StepPayload, request: StepRequest) -> StepAnswer:
                response = perform(request, airbyte_client)
                body = response.body if isinstance(response.body, dict) else {}
                logger.info(
                    "Airbyte answered",
                    extra={
                        "statusCode": response.status_code,
                        "jobId": body.get("jobId"),
                        "jobStatus": body.get("status"),
                        "elapsedMs": round((time.monotonic() - started) * 1000),
                    },
                )
                metrics.add_metric(name="AirbyteCalls", unit=MetricUnit.Count, value=1)
                # What the state machine keeps of the answer, as the step's payload asks.
                return step_answer(response, payload)

            try:
                payload = read_payload(event)
                request = StepRequest.from_payload(payload, operation_id)
                logger.append_keys(step=request.step, operation=operation_id)
                # Criteria the state machine cannot evaluate come along; refuse bad ones before any call.
                check_criteria(payload)
                # Idempotent: a retried invocation whose first attempt succeeded gets its answer back.
                return once_per_step(payload, context, lambda: answer(payload, request)) if idempotent else answer(payload, request)
            except LoopAgain:
                # Not a failure: a loop in the Task's own Retry goes on (x-loop mode retry).
                metrics.add_metric(name="LoopPasses", unit=MetricUnit.Count, value=1)
                raise
            except (AirbyteError, OperationError, CriterionError) as exc:
                # One metric per error class, e.g. TransientAirbyteError, InvalidInput or PayloadVersionMismatch.
                metrics.add_metric(name=type(exc).__name__, unit=MetricUnit.Count, value=1)
                logger.warning("step failed", extra={"errorType": type(exc).__name__, "error": str(exc)})
                raise

        result: Callable[[Any, Any], StepAnswer] = lambda_handler
        return result

    return decorate


def _body(step: str, request: OperationRequest) -> Any:
    """The body as the workflow gives it, its run-time replacements and absent members applied."""
    try:
        return prepared_body(request)[1]
    except InvalidRequest as error:
        raise InvalidInput(f"{step}: {error}") from None


def _retry_start(payload: StepPayload) -> datetime | None:
    """The run's start time when the state machine says this is a retry (attempt > 0)."""
    if payload.attempt == 0:
        return None
    if payload.execution_start_time is None:
        raise InvalidInput(f"{payload.step}: executionStartTime must be an ISO 8601 time on a retry")
    return payload.execution_start_time


def _loop_passes(loops: Mapping[str, LoopCounter] | None) -> int:
    """The passes of a step's loops so far, from the counters the state machine sends."""
    return sum(counter["iterations"] for counter in (loops or {}).values())


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def record_job_end(job: Any, reads: int | None = None) -> None:
    """When a read finds a job ended: how long it ran, for a sync what it moved, and how many
    reads it took (`reads`: those of this wait-for-job execution, which is all of them for a
    job shorter than about 8.7 days), as metrics of their own (dimensions JobType and Status),
    for the dashboard and for alarms of one's own (a sync that moved no rows, a reset that
    took hours)."""
    if not isinstance(job, dict) or job.get("status") not in TERMINAL_STATUSES:
        return
    dimensions = {"JobType": str(job.get("jobType")), "Status": str(job.get("status"))}
    started, ended = airbyte_timestamp(job.get("startTime")), airbyte_timestamp(job.get("lastUpdatedAt"))
    figures: list[tuple[str, MetricUnit, float]] = [] if reads is None else [("JobPolls", MetricUnit.Count, reads)]
    if started and ended:
        figures.append(("JobSeconds", MetricUnit.Seconds, (ended - started).total_seconds()))
    for name in ("rowsSynced", "bytesSynced"):
        value = job.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            figures.append((name[0].upper() + name[1:], MetricUnit.Bytes if name == "bytesSynced" else MetricUnit.Count, value))
    for name, unit, value in figures:
        with single_metric(name=name, unit=unit, value=value, namespace=metrics.namespace) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)

