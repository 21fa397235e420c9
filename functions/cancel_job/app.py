"""cancel-job: when an execution fails, is aborted or times out, cancel the reset it left
running (if it is still the connection's current job), so no reset goes on with nobody
watching it. A sync is left to run (it refills the destination), and a reset that had
succeeded, or not ended, with no sync after it is reported: the destination is empty, and
the destination's alarm fires.

Started by the EventBridge rule on Step Functions' "Execution Status Change" events for this
state machine (status FAILED, ABORTED or TIMED_OUT). The jobs the execution knew are in its last
state data: every step answer that names an Airbyte job (a `jobId` output, or a body with
`jobId` and `jobType`)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from airbyte_client.handler import cancel_jobs_left_running, logger, metrics

FINAL_STATUSES = ("FAILED", "ABORTED", "TIMED_OUT")


@logger.inject_lambda_context(correlation_id_path="detail.executionArn", clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> dict:
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict) or not isinstance(detail.get("executionArn"), str):
        raise ValueError("the event must be a Step Functions Execution Status Change with detail.executionArn")
    if detail.get("status") not in FINAL_STATUSES:
        return {"executionArn": detail["executionArn"], "cancelled": [], "skipped": f"status {detail.get('status')}"}
    metrics.add_metric(name="UnsuccessfulExecutions", unit=MetricUnit.Count, value=1)
    # Failures by error name (ConnectionBusy, ResyncFailed, ...), for the dashboard.
    with single_metric(name="RunsEnded", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
        metric.add_dimension(name="Status", value=str(detail["status"]))
        metric.add_dimension(name="Error", value=str(detail.get("error") or "none"))
    job_ids = jobs_of(detail["executionArn"])
    return {"executionArn": detail["executionArn"], **cancel_jobs_left_running(job_ids, detail["executionArn"])}


def jobs_of(execution_arn: str) -> list[int]:
    """The Airbyte jobs in the execution's latest state data, newest first. The whole history
    is read (at most 25,000 events, once per stopped execution) and searched from its end."""
    client = boto3.client("stepfunctions")
    events = [event for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn) for event in page["events"]]
    for history_event in sorted(events, key=lambda event: event["id"], reverse=True):
        exited, entered = history_event.get("stateExitedEventDetails"), history_event.get("stateEnteredEventDetails")
        data = _json(exited.get("output")) if exited else _json(entered.get("input")) if entered else None
        if isinstance(data, dict) and isinstance(data.get("steps"), dict):
            return _job_ids(data["steps"])
    return []


def _job_ids(steps: dict) -> list[int]:
    found: list[int] = []
    for answer in steps.values():
        if not isinstance(answer, dict):
            continue
        body, outputs = answer.get("body"), answer.get("outputs")
        candidates = [outputs.get("jobId")] if isinstance(outputs, dict) else []
        candidates += [body.get("jobId")] if isinstance(body, dict) and "jobType" in body else []
        for job_id in candidates:
            if isinstance(job_id, int) and not isinstance(job_id, bool) and job_id not in found:
                found.append(job_id)
    return sorted(found, reverse=True)


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
