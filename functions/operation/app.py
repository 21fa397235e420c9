"""operation: perform one workflow step's HTTP request, once, against the server of the
step's source description, and evaluate the criteria Step Functions cannot.

The server URL comes from the environment: `SERVER_URL_<SOURCE>` (the source name
upper-cased, every other character than a letter or digit made `_`), else `SERVER_URL`.
The event is read as a step payload (arazzo_runtime.payload) and checked, its criteria
compiled, before anything is sent. A step with `x-pages` sends one request per page and
answers them as one (arazzo_runtime.pages). A criteria payload (`kind: criteria`) sends
nothing: its criteria are judged on the values it carries (those of a step that runs a
workflow as a child execution, on the child's outputs).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from arazzo_runtime.errors import LoopAgain, OperationError, ServerUrlMissing
from arazzo_runtime.evaluate import CriterionError
from arazzo_runtime.http import perform
from arazzo_runtime.observability import logger, metrics
from arazzo_runtime.pages import perform_pages
from arazzo_runtime.payload import CriteriaAnswer, StepAnswer, is_criteria_payload, parse_criteria_payload, parse_payload
from arazzo_runtime.step import check_criteria, criteria_answer, step_answer


@logger.inject_lambda_context(correlation_id_path="executionId", clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> StepAnswer | CriteriaAnswer:
    if is_criteria_payload(event):
        return judge_criteria(event)
    started = time.monotonic()
    try:
        payload = parse_payload(event)
        logger.append_keys(step=payload.step, source=payload.source, operationId=payload.operation_id)
        check_criteria(payload)
        url = server_url(payload.source)
        # A step with x-pages lists every page, and answers them as one response.
        response = perform(payload.request, url) if payload.pages is None else perform_pages(payload.step, payload.pages, payload.request, url)
        result = step_answer(response, payload)
    except LoopAgain:
        # Not a failure: a loop in the Task's own Retry goes on (x-loop mode retry).
        metrics.add_metric(name="LoopPasses", unit=MetricUnit.Count, value=1)
        raise
    except (OperationError, CriterionError) as exc:
        # One metric per error class, e.g. TransientHttpError, InvalidRequest or PayloadVersionMismatch.
        metrics.add_metric(name=type(exc).__name__, unit=MetricUnit.Count, value=1)
        logger.warning("step failed", extra={"errorType": type(exc).__name__, "error": str(exc)})
        raise
    logger.info(
        "operation answered",
        extra={
            "method": payload.request["method"],
            "path": payload.request["path"],
            "statusCode": result["statusCode"],
            "criteria": result["criteria"],
            "elapsedMs": round((time.monotonic() - started) * 1000),
        },
    )
    metrics.add_metric(name="OperationCalls", unit=MetricUnit.Count, value=1)
    return result


def judge_criteria(event: Any) -> CriteriaAnswer:
    """The verdicts on a criteria payload's criteria."""
    try:
        payload = parse_criteria_payload(event)
        logger.append_keys(step=payload.step)
        answer = criteria_answer(payload)
    except (OperationError, CriterionError) as exc:
        metrics.add_metric(name=type(exc).__name__, unit=MetricUnit.Count, value=1)
        logger.warning("criteria not judged", extra={"errorType": type(exc).__name__, "error": str(exc)})
        raise
    logger.info("criteria judged", extra={"criteria": answer["criteria"]})
    metrics.add_metric(name="CriteriaJudged", unit=MetricUnit.Count, value=1)
    return answer


def server_url(source: str) -> str:
    """The URL of the source's server: SERVER_URL_<SOURCE>, else SERVER_URL."""
    specific = "SERVER_URL_" + re.sub(r"[^A-Za-z0-9]", "_", source).upper()
    for name in (specific, "SERVER_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    raise ServerUrlMissing(f"no server URL for source {source!r}: set {specific} or SERVER_URL")
