"""operation: perform one workflow step's HTTP request, once, against the server of the
step's source description, and evaluate the criteria Step Functions cannot.

The server URL comes from the environment: `SERVER_URL_<SOURCE>` (the source name
upper-cased, every other character than a letter or digit made `_`), else `SERVER_URL`.
The event is checked (and its criteria compiled) before anything is sent.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from arazzo_runtime.errors import InvalidRequest, LoopAgain, OperationError, ServerUrlMissing
from arazzo_runtime.evaluate import CriterionError, compile_criteria
from arazzo_runtime.http import perform
from arazzo_runtime.observability import logger, metrics
from arazzo_runtime.step import step_answer


@logger.inject_lambda_context(correlation_id_path="executionId", clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> dict:
    started = time.monotonic()
    try:
        step, source, request = read_event(event)
        logger.append_keys(step=step, source=source, operationId=event.get("operationId"))
        # Compiled now only to refuse a bad criterion before the request is sent.
        compile_criteria(event.get("evaluate"), event.get("values"))
        response = perform(request, server_url(source))
        result = step_answer(response, event)
    except LoopAgain:
        # Not a failure: a loop in the Task's own Retry goes on (x-loop mode retry).
        metrics.add_metric(name="LoopPasses", unit=MetricUnit.Count, value=1)
        raise
    except (OperationError, CriterionError) as exc:
        # One metric per error class, e.g. TransientHttpError or InvalidRequest.
        metrics.add_metric(name=type(exc).__name__, unit=MetricUnit.Count, value=1)
        logger.warning("step failed", extra={"errorType": type(exc).__name__, "error": str(exc)})
        raise
    logger.info(
        "operation answered",
        extra={
            "method": request["method"],
            "path": request["path"],
            "statusCode": result["statusCode"],
            "criteria": result["criteria"],
            "elapsedMs": round((time.monotonic() - started) * 1000),
        },
    )
    metrics.add_metric(name="OperationCalls", unit=MetricUnit.Count, value=1)
    return result


def read_event(event: Any) -> tuple[str, str, dict]:
    """(step, source, request) from the payload; `InvalidRequest` naming the field at fault.
    The request's parts are checked in full by `perform`, before it sends anything."""
    if not isinstance(event, dict):
        raise InvalidRequest("the event must be a JSON object")
    step = event.get("step")
    if not isinstance(step, str) or not step:
        raise InvalidRequest("step must be a non-empty string")
    source = event.get("source")
    if not isinstance(source, str) or not source:
        raise InvalidRequest(f"{step}: source must be a non-empty string")
    if event.get("operationId") is not None and not isinstance(event["operationId"], str):
        raise InvalidRequest(f"{step}: operationId must be a string or null")
    request = event.get("request")
    if not isinstance(request, dict):
        raise InvalidRequest(f"{step}: request must be a JSON object")
    for field in ("method", "path"):
        if not isinstance(request.get(field), str) or not request[field]:
            raise InvalidRequest(f"{step}: request.{field} must be a non-empty string")
    for field in ("evaluate", "values"):
        if event.get(field) is not None and not isinstance(event[field], dict):
            raise InvalidRequest(f"{step}: {field} must be a JSON object")
    return step, source, request


def server_url(source: str) -> str:
    """The URL of the source's server: SERVER_URL_<SOURCE>, else SERVER_URL."""
    specific = "SERVER_URL_" + re.sub(r"[^A-Za-z0-9]", "_", source).upper()
    for name in (specific, "SERVER_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    raise ServerUrlMissing(f"no server URL for source {source!r}: set {specific} or SERVER_URL")
