"""Runs on AWS, from a terminal: start (or attach to) one execution per connection, watch
them, read one's status, list them, request a run through EventBridge, and redrive one where
that is safe. boto3 only; the state machine is named by its ARN or found in the stack's
outputs."""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from airbyte_resync.contracts import DETAIL_TYPE
from airbyte_resync.local import Transition, _JobTransitions
from arazzo_sfn.execution import TERMINAL, Event, Follower, RunResult, StepFunctions, history_of, history_since, print_result, result_from_description

EVENT_SOURCE = "airbyte-resync.cli"
# Between two reads of a watched execution: Step Functions' own pace is seconds.
WATCH_PAUSE_SECONDS = 2.0


class StepFunctionsOnAws(StepFunctions, Protocol):
    """What the commands call of boto3's Step Functions client, whose calls boto3 does not type."""

    def describe_state_machine(self, *, stateMachineArn: str) -> dict[str, Any]: ...

    def redrive_execution(self, *, executionArn: str) -> dict[str, Any]: ...


class CloudFormation(Protocol):
    """What the commands call of boto3's CloudFormation client (the stack's outputs)."""

    def describe_stacks(self, *, StackName: str | None) -> dict[str, Any]: ...


class EventBridge(Protocol):
    """What the commands call of boto3's EventBridge client (`request`)."""

    def put_events(self, *, Entries: list[dict[str, str]]) -> dict[str, Any]: ...


class OperationError(Exception):
    """Something on AWS the operator must fix (no credentials, no such stack): exit 2."""


@dataclass
class Started:
    connection_id: str
    execution_arn: str
    attached: bool  # an execution of this connection was already running


def aws_call(what: str, call: Callable[[], Any]) -> Any:
    """One AWS call; its failure becomes one line that names what was asked."""
    try:
        return call()
    except NoCredentialsError:
        raise OperationError(f"{what}: no AWS credentials: set AWS_PROFILE, or run `aws configure`") from None
    except ClientError as error:
        code, message = error.response["Error"].get("Code", "Error"), error.response["Error"].get("Message", "")
        raise OperationError(f"{what}: {code}: {message}") from None
    except BotoCoreError as error:
        raise OperationError(f"{what}: {error}") from None


def region_of(arn: str | None) -> str | None:
    """The Region an ARN names (arn:partition:service:region:account:...)."""
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else None


def aws_client(service: str, arn: str | None = None) -> Any:
    """A client in the Region of `arn` when one is given, else in the configured Region; with
    none configured, one line saying how to set it."""
    region = region_of(arn)
    try:
        return boto3.client(service, **({"region_name": region} if region else {}))
    except NoRegionError:
        raise OperationError("no AWS Region: set AWS_REGION (or AWS_DEFAULT_REGION), or run `aws configure set region <region>`") from None


def state_machine_arn(stack_name: str | None, arn: str | None, cloudformation: CloudFormation | None = None) -> str:
    """The run's state machine: given, or the `StateMachineArn` output of the stack."""
    if arn:
        return arn
    stacks_client: CloudFormation = cloudformation or aws_client("cloudformation")
    stacks = aws_call(f"stack {stack_name}", lambda: stacks_client.describe_stacks(StackName=stack_name))["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == "StateMachineArn":
            return str(output["OutputValue"])
    raise OperationError(f"stack {stack_name} has no StateMachineArn output: is it this application's stack?")


def connection_of(client: StepFunctionsOnAws, execution_arn: str) -> str | None:
    """The connection an execution runs for, from its input."""
    description = aws_call("describe-execution", lambda: client.describe_execution(executionArn=execution_arn))
    try:
        value = json.loads(description.get("input") or "{}").get("connectionId")
    except (ValueError, AttributeError):
        return None
    return value.lower() if isinstance(value, str) else None


def iter_executions(client: StepFunctionsOnAws, machine: str, status: str | None = None) -> Iterator[dict[str, Any]]:
    """The state machine's executions, newest first, a page at a time as they are consumed."""
    pages = iter(client.get_paginator("list_executions").paginate(stateMachineArn=machine, **({"statusFilter": status} if status else {})))
    while True:
        page = aws_call("list-executions", lambda: next(pages, None))
        if page is None:
            return
        yield from page["executions"]


def executions(client: StepFunctionsOnAws, machine: str, status: str | None = None) -> list[dict[str, Any]]:
    return list(iter_executions(client, machine, status))


def start(client: StepFunctionsOnAws, machine: str, execution_inputs: list[dict[str, Any]]) -> list[Started]:
    """One execution per input's connection; a connection that already has a running
    execution of this state machine is attached to instead, so starting twice starts nothing
    twice (and pages nobody with ConnectionBusy)."""
    running = {connection_of(client, item["executionArn"]): item["executionArn"] for item in executions(client, machine, "RUNNING")}
    started: list[Started] = []
    for execution_input in execution_inputs:
        connection = execution_input["connectionId"].lower()
        if connection in running:
            started.append(Started(connection, running[connection], attached=True))
            continue
        name = f"cli-{connection[:8]}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        answer = aws_call(f"start-execution for {connection}", lambda: client.start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(execution_input)))  # noqa: B023 - aws_call calls it at once
        running[connection] = answer["executionArn"]
        started.append(Started(connection, answer["executionArn"], attached=False))
    return started


def result_of(client: StepFunctionsOnAws, execution_arn: str, history: list[Event] | None = None, *, read_history: bool = True) -> RunResult:
    description = aws_call("describe-execution", lambda: client.describe_execution(executionArn=execution_arn))
    if history is None and read_history:
        history = aws_call("get-execution-history", lambda: history_of(client, execution_arn))
    return result_from_description(description, history)


def run_document(result: RunResult) -> dict[str, Any]:
    """A run as every --json prints it: the execution's shape, with the connection it runs for."""
    connection = result.input.get("connectionId") if isinstance(result.input, dict) else None
    return {**result.to_json(), "connectionId": connection.lower() if isinstance(connection, str) else None}


# History events of a failed attempt of a Task, and where their details are.
_ATTEMPT_FAILED = {
    "TaskFailed": "taskFailedEventDetails", "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails", "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
}


def watch(client: StepFunctionsOnAws, execution_arns: list[str], on_transition: Callable[[str, Transition], None] | None = None,
          pause: float = WATCH_PAUSE_SECONDS,
          on_failure: Callable[[str, str, str, str, list[str]], None] | None = None) -> list[RunResult]:
    """Follow every execution to its end, reporting each state it and the child executions
    it starts (wait-for-job) go through, and each failed attempt of a Task of either
    (`on_failure(arn, state, error, message, errors of the state's earlier failed attempts)`);
    never stops one."""
    followers = {arn: Follower(arn, _JobTransitions(), child_reader=_JobTransitions) for arn in execution_arns}
    attempts = {arn: _FailedAttempts() for arn in execution_arns}
    results: dict[str, RunResult] = {}
    while len(results) < len(execution_arns):
        for arn in execution_arns:
            if arn in results:
                continue
            # aws_call calls each lambda at once, inside this iteration.
            status = aws_call("describe-execution", lambda: client.describe_execution(executionArn=arn))["status"]  # noqa: B023
            history = aws_call("get-execution-history", lambda: history_of(client, arn))  # noqa: B023
            events = aws_call("get-execution-history", lambda: followers[arn].read(history, lambda child, after: history_since(client, child, after)))  # noqa: B023
            for source, event, transition in events:
                if transition and on_transition:
                    on_transition(arn, transition)
                failed = attempts[arn].read(source, event)
                if failed and on_failure:
                    on_failure(arn, *failed)
            if status in TERMINAL:  # read before the history, so the history holds the end
                results[arn] = result_of(client, arn, history)
        if len(results) < len(execution_arns):
            time.sleep(pause)
    return [results[arn] for arn in execution_arns]


class _FailedAttempts:
    """Reads the failed attempts of Tasks from histories (a parent's and its children's)."""

    def __init__(self) -> None:
        self._entered: dict[str, tuple[str, list[str]]] = {}  # execution -> (Task state, its errors so far)

    def read(self, execution: str, event: Event) -> tuple[str, str, str, list[str]] | None:
        """(state, error, message, errors of its earlier failed attempts) for a failed attempt."""
        if event["type"] == "TaskStateEntered":
            self._entered[execution] = (event["stateEnteredEventDetails"]["name"], [])
        elif event["type"] in _ATTEMPT_FAILED and execution in self._entered:
            state, errors = self._entered[execution]
            details = event.get(_ATTEMPT_FAILED[event["type"]], {})
            error = details.get("error") or "States.TaskFailed"
            earlier = list(errors)
            errors.append(error)
            return state, error, _failure_message(details.get("cause")), earlier
        return None


def _failure_message(cause: str | None) -> str:
    """A Lambda error's message from its cause (JSON with errorMessage), else the cause."""
    try:
        document = json.loads(cause or "")
    except ValueError:
        return cause or ""
    return str(document.get("errorMessage", cause)) if isinstance(document, dict) else cause or ""


def states_of(client: StepFunctionsOnAws, execution_arn: str) -> dict[str, Any]:
    """The states of the state machine an execution runs, and of the state machines it starts
    (wait-for-job), by name: what their retry policies are read from."""
    machine = aws_call("describe-execution", lambda: client.describe_execution(executionArn=execution_arn))["stateMachineArn"]
    definition = json.loads(aws_call("describe-state-machine", lambda: client.describe_state_machine(stateMachineArn=machine))["definition"])
    states = dict(definition.get("States", {}))
    for state in list(states.values()):
        child = (state.get("Parameters") or {}).get("StateMachineArn") if str(state.get("Resource", "")).startswith("arn:aws:states:::states:startExecution") else None
        if isinstance(child, str):
            try:
                child_definition = json.loads(client.describe_state_machine(stateMachineArn=child)["definition"])
            except (ClientError, BotoCoreError, ValueError):
                continue  # its retries are then not read: each failed attempt still shows
            for name, child_state in child_definition.get("States", {}).items():
                states.setdefault(name, child_state)
    return states


@dataclass
class Redriven:
    connection_id: str | None
    resumes_at: str  # the state the execution resumes at


def redrive(client: StepFunctionsOnAws, execution_arn: str) -> Redriven:
    """Redrive a failed, aborted or timed-out execution, but only where that is safe and can help.

    Refused (OperationError, naming why and what to do instead) when Step Functions does not
    allow it (running, succeeded, older than 14 days, ...); when the run ended at one of the
    workflow's Fail states (a redrive resumes there and fails again at once); and when the
    connection has had another execution of this state machine since this one started. A
    redriven execution does not pass its first step again, so it does not claim the connection
    again: it keeps the claim only while no other run has taken it over, which an execution
    that started on the connection since would have done. If one starts in the moment between
    the check and the redrive and is still running after it, the redriven execution is stopped
    at once (the stack's cancel-job function cancels a reset it left running, as for any stopped run)."""
    description = aws_call("describe-execution", lambda: client.describe_execution(executionArn=execution_arn))
    connection = connection_of(client, execution_arn)
    instead = f"start a new run instead: airbyte-resync start --connection-id {connection or '<id>'} --state-machine-arn {description['stateMachineArn']}"
    if description.get("redriveStatus", "REDRIVABLE") != "REDRIVABLE" or description["status"] not in ("FAILED", "ABORTED", "TIMED_OUT"):
        reason = description.get("redriveStatusReason") or f"Execution is {description['status']} and cannot be redriven."
        raise OperationError(f"Step Functions cannot redrive {execution_arn}: {reason.rstrip('.')}; {instead}")
    history = aws_call("get-execution-history", lambda: history_of(client, execution_arn))
    entered = [event for event in history if event["type"].endswith("StateEntered")]
    if not entered:
        raise OperationError(f"{execution_arn} ended before its first state; {instead}")
    last = entered[-1]
    state = last["stateEnteredEventDetails"]["name"]
    if description["status"] == "FAILED" and last["type"] == "FailStateEntered":
        raise OperationError(
            f"{execution_arn} ended at its Fail state {state} ({description.get('error') or 'no error name'}): a redrive would "
            f"end there again. Follow the runbook for that error, then {instead}")
    if connection is not None:
        others = _other_runs(client, description["stateMachineArn"], connection, execution_arn, description["startDate"])
        if others:
            raise OperationError(
                f"connection {connection} has had execution {others[0]['executionArn']} ({others[0]['status']}) since this one "
                f"started: a redrive could run beside it or undo what it did; {instead}")
    aws_call("redrive-execution", lambda: client.redrive_execution(executionArn=execution_arn))
    if connection is not None:
        # There were none a moment ago, so any now started in between.
        rivals = [item for item in _other_runs(client, description["stateMachineArn"], connection, execution_arn, description["startDate"])
                  if item["status"] == "RUNNING"]
        if rivals:
            aws_call("stop-execution", lambda: client.stop_execution(
                executionArn=execution_arn, error="ConnectionBusy",
                cause=f"execution {rivals[0]['executionArn']} started on the connection during the redrive"))
            raise OperationError(
                f"execution {rivals[0]['executionArn']} started on connection {connection} while {execution_arn} was being "
                "redriven; the redriven execution was stopped again. Watch the other one: airbyte-resync watch "
                f"{rivals[0]['executionArn']}")
    return Redriven(connection, state)


def _other_runs(client: StepFunctionsOnAws, machine: str, connection: str, execution_arn: str, since: datetime) -> list[dict[str, Any]]:
    """Executions of `machine` for `connection`, other than `execution_arn`, started at or after
    `since`. Step Functions lists the newest first: the listing stops at the first older one,
    so a machine with months of executions costs a page or two, not one call per execution."""
    recent = itertools.takewhile(lambda item: item["startDate"] >= since, iter_executions(client, machine))
    return [item for item in recent
            if item["executionArn"] != execution_arn and connection_of(client, item["executionArn"]) == connection]


def request(events_client: EventBridge, execution_input: dict[str, Any]) -> str:
    """Put the documented EventBridge event; the stack's rule starts the run. Its event id."""
    answer = aws_call("put-events", lambda: events_client.put_events(Entries=[{
        "Source": EVENT_SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(execution_input)}]))
    entry = answer["Entries"][0]
    if answer.get("FailedEntryCount") or "EventId" not in entry:
        raise OperationError(f"put-events: {entry.get('ErrorCode', 'refused')}: {entry.get('ErrorMessage', '')}")
    return str(entry["EventId"])


def listed_runs(client: StepFunctionsOnAws, listed: Iterable[dict[str, Any]], connection: str | None, limit: int | None = None) -> tuple[list[RunResult], bool]:
    """The executions (of `connection`, if given), at most `limit`, and whether more were left.
    Each costs a DescribeExecution (the connection is in the input), so the listing stops at
    the limit instead of reading months of executions; histories are not read."""
    runs: list[RunResult] = []
    for item in listed:
        if limit is not None and len(runs) >= limit:
            return runs, True
        run = result_of(client, item["executionArn"], read_history=False)
        owner = run_document(run)["connectionId"]
        if connection and owner != connection.lower():
            continue
        runs.append(run)
    return runs, False


def print_listing(out: TextIO, runs: list[RunResult], truncated: bool, limit: int | None = None) -> None:
    """One line per execution: status, start, connection, ARN."""
    for run in runs:
        started = (run.start_date or "")[:19].replace("T", " ")
        out.write(f"{run.status:<10} {started}  {run_document(run)['connectionId'] or '-':<36}  {run.execution_arn}\n")
    if truncated:
        out.write(f"(the newest {limit} shown; --limit N shows more)\n")
    if not runs:
        out.write("no executions\n")


def print_status(out: TextIO, result: RunResult) -> None:
    if result.status in TERMINAL:
        print_result(out, result)
    else:
        out.write(f"Execution {result.status} ({result.events} history events so far).\n")


def exit_code(result: RunResult) -> int:
    """0 succeeded; 1 failed, aborted or timed out; 3 still running."""
    if result.status == "SUCCEEDED":
        return 0
    return 1 if result.status in TERMINAL else 3


_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:execution:[\w-]+:[\w-]+$")


def checked_execution_arn(value: str) -> str:
    if not _ARN.match(value.strip()):
        raise OperationError(f"EXECUTION_ARN must be a Step Functions execution ARN (arn:aws:states:<region>:<account>:execution:<machine>:<name>), got {value[:80]!r}")
    return value.strip()

