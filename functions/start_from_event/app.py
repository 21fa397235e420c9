"""start-from-event: start one execution per EventBridge event: of the run's state machine for
`Airbyte Connection Reset Requested`, of the fleet's for `Airbyte Connections Reset Requested`.

EventBridge delivers an event at least once. Started straight from the rule, each copy
would start an execution: a copy arriving while the first run runs would fail with
ConnectionBusy (and page someone), one arriving after it ended would reset the connection
again. So the execution is named after the event's id: Step Functions refuses a second
execution of the same name for 90 days, and every copy of an event is the same one run.
The event's detail is the execution input, unchanged. It is checked against the input's
contract first (execution-input.schema.json or fleet-input.schema.json beside this file):
a malformed request starts nothing, and fails this function
naming the field, so after Lambda's retries it lands in the unhandled-events queue and
raises that alarm, instead of starting a run that can only fail."""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from airbyte_client.contract import load_contract, problems
from airbyte_client.handler import logger, metrics

# Each detail-type's state machine (its ARN's environment variable) and input contract,
# generated from the workflow's inputs (make compile).
MACHINES = {
    "Airbyte Connection Reset Requested": ("STATE_MACHINE_ARN", load_contract(Path(__file__).with_name("execution-input.schema.json"))),
    "Airbyte Connections Reset Requested": ("FLEET_STATE_MACHINE_ARN", load_contract(Path(__file__).with_name("fleet-input.schema.json"))),
}

# Execution names: letters, digits, - and _, at most 80 characters.
NAME_PREFIX = "event-"


class InvalidRequest(ValueError):
    """The event's detail breaks the execution input's contract."""


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> dict:
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        metrics.add_metric(name="RefusedEvents", unit=MetricUnit.Count, value=1)
        raise ValueError("the event must be an EventBridge event with an id")
    name = execution_name(event["id"])
    # The rules match on detail-type; an event without one is the single run's, as it always was.
    detail_type = event.get("detail-type", "Airbyte Connection Reset Requested")
    if detail_type not in MACHINES:
        metrics.add_metric(name="RefusedEvents", unit=MetricUnit.Count, value=1)
        raise ValueError(f"event {event['id']}: detail-type {detail_type!r} is not one of {', '.join(repr(kind) for kind in MACHINES)}")
    machine_variable, contract = MACHINES[detail_type]
    refused = problems(event.get("detail"), contract)
    if refused:
        metrics.add_metric(name="RefusedEvents", unit=MetricUnit.Count, value=1)
        raise InvalidRequest(f"event {event['id']}: the detail is not a valid execution input: {'; '.join(refused)}")
    try:
        started = states().start_execution(
            stateMachineArn=os.environ[machine_variable], name=name, input=json.dumps(event.get("detail"))
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            metrics.add_metric(name="FailedStarts", unit=MetricUnit.Count, value=1)
            raise  # Lambda retries it, then the event goes to the dead-letter queue
        # Another copy of this event started the run already (it may have ended since).
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
        logger.info("a copy of an event that already started its execution", extra={"executionName": name})
        return {"executionName": name, "started": False}
    # A copy arriving while the run still runs gets that run back here: StartExecution is
    # idempotent for a running execution of the same name and input.
    metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
    logger.info("execution of the event", extra={"executionArn": started["executionArn"]})
    return {"executionName": name, "executionArn": started["executionArn"], "started": True}


def execution_name(event_id: str) -> str:
    """`event-<id>`: EventBridge ids are UUIDs; anything else is made a valid name."""
    return NAME_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", event_id)[: 80 - len(NAME_PREFIX)]


@functools.cache
def states() -> Any:
    """One Step Functions client per warm container."""
    return boto3.client("stepfunctions")
