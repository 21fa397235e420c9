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

from airbyte_resync.contracts import DETAIL_TYPE, FLEET
from airbyte_resync.transitions import JobTransitions, Transition
from arazzo_sfn.history import (
    TERMINAL,
    Event,
    Follower,
    RunResult,
    StepFunctions,
    history_of,
    history_since,
    print_result,
    readable_cause,
    result_from_description,
    started_child,
)

EVENT_SOURCE = "airbyte-resync.cli"
# Between two reads of a watched execution: Step Functions' own pace is seconds.
WATCH_PAUSE_SECONDS = 2.0


class StepFunctionsOnAws(StepFunctions, Protocol):
    """What the commands call of boto3's Step Functions client, whose calls boto3 does not type."""

    def describe_state_machine(self, *, stateMachineArn: str) -> dict[str, Any]: ...

    def redrive_execution(self, *, executionArn: str) -> dict[str, Any]: ...

    def list_map_runs(self, *, executionArn: str) -> dict[str, Any]: ...

    # mapRunArn or stateMachineArn, maxResults, nextToken.
    def list_executions(self, **arguments: Any) -> dict[str, Any]: ...


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
    return _stack_output(stack_name, "StateMachineArn", cloudformation)


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
    followers = {arn: Follower(arn, JobTransitions(), child_reader=JobTransitions) for arn in execution_arns}
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
    return _put_event(events_client, DETAIL_TYPE, execution_input)


def _put_event(events_client: EventBridge, detail_type: str, detail: dict[str, Any]) -> str:
    answer = aws_call("put-events", lambda: events_client.put_events(Entries=[{
        "Source": EVENT_SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}]))
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
        if connection and connection.lower() not in _connections_of(run):
            continue
        runs.append(run)
    return runs, False


def _connections_of(run: RunResult) -> set[str]:
    """The connections a run runs: its own, or a fleet's (those it was given, and those its answer lists)."""
    if not is_fleet_input(run.input):
        connection = run_document(run)["connectionId"]
        return {connection} if connection else set()
    given = {str(item).lower() for item in run.input.get("connectionIds") or []}
    return given | {item["connectionId"] for item in fleet_connections(run)}


def any_run_document(run: RunResult) -> dict[str, Any]:
    """A run's --json document: a fleet's (with its connections) or a single run's."""
    return fleet_document(run) if is_fleet_input(run.input) else run_document(run)


def print_listing(out: TextIO, runs: list[RunResult], truncated: bool, limit: int | None = None) -> None:
    """One line per execution: status, start, connection (a fleet: what it selects), ARN."""
    for run in runs:
        started = (run.start_date or "")[:19].replace("T", " ")
        out.write(f"{run.status:<10} {started}  {_what_it_runs(run):<36}  {run.execution_arn}\n")
    if truncated:
        out.write(f"(the newest {limit} shown; --limit N shows more)\n")
    if not runs:
        out.write("no executions\n")


def _what_it_runs(run: RunResult) -> str:
    if not is_fleet_input(run.input):
        return str(run_document(run)["connectionId"] or "-")
    parts = [f"{len(run.input[key])} {label}" for key, label in (("connectionIds", "connections"), ("workspaceIds", "workspaces"), ("tagIds", "tags"))
             if isinstance(run.input.get(key), list)]
    return "fleet: " + ", ".join(parts)


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



# ------------------------------------------------------------------------------ fleets
# A fleet execution (reset-and-resync-fleet) runs each connection as a child execution of the
# run's state machine, started by one iteration of a Distributed Map.

FLEET_DETAIL_TYPE = FLEET.detail_type
FLEET_SELECTORS = ("connectionIds", "workspaceIds", "tagIds")
FLEET_OUTCOMES = ("succeeded", "failed", "skipped", "notStarted")
# The fewest seconds between two looks at a fleet's Map Run: each costs a ListMapRuns, a
# ListExecutions per 1,000 connections, and one GetExecutionHistory per connection whose
# child has not been found yet (a connection whose child is known costs nothing more).
FLEET_REFRESH_SECONDS = 5.0
# Step Functions refills GetExecutionHistory at 5 calls a second (a bucket of 250): a watch
# reads at most this many running children's histories a second, so 1,000 connections under
# way slow the display instead of throttling the account.
HISTORY_READS_PER_SECOND = 4.0
# The most runs of a fleet a watch reads between two pauses.
CHILD_READS_PER_PASS = 20


def is_fleet_input(execution_input: Any) -> bool:
    """Whether an execution's input is a fleet's (a selection, no single connectionId)."""
    return isinstance(execution_input, dict) and "connectionId" not in execution_input and any(
        key in execution_input for key in FLEET_SELECTORS)


@dataclass
class FleetChild:
    """One connection's run inside a fleet: the child execution an iteration of the fleet's
    Map Run started, and how it stands (its status once it ended, else RUNNING)."""

    connection_id: str
    execution_arn: str
    status: str
    iteration_arn: str = ""
    stop_date: datetime | None = None  # when its run ended, as Step Functions says (read with its status)


def fleet_state_machine_arn(stack_name: str | None, arn: str | None, cloudformation: CloudFormation | None = None) -> str:
    """The fleet's state machine: given, or the `ResetAndResyncFleetStateMachineArn` output of the stack."""
    if arn:
        return arn
    return _stack_output(stack_name, "ResetAndResyncFleetStateMachineArn", cloudformation)


def _stack_output(stack_name: str | None, key: str, cloudformation: CloudFormation | None) -> str:
    stacks_client: CloudFormation = cloudformation or aws_client("cloudformation")
    stacks = aws_call(f"stack {stack_name}", lambda: stacks_client.describe_stacks(StackName=stack_name))["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == key:
            return str(output["OutputValue"])
    raise OperationError(f"stack {stack_name} has no {key} output: is it this application's stack (of a version that has it)?")


def start_fleet(client: StepFunctionsOnAws, machine: str, fleet_input: dict[str, Any]) -> Started:
    """One fleet execution for the whole selection. A fleet of this machine already running
    with the same input is attached to instead: starting twice starts nothing twice. Its
    `connection_id` is empty: a fleet runs many."""
    wanted = _canonical(fleet_input)
    for item in executions(client, machine, "RUNNING"):
        description = aws_call("describe-execution", lambda: client.describe_execution(executionArn=item["executionArn"]))  # noqa: B023 - aws_call calls it at once
        try:
            running_input = json.loads(description.get("input") or "{}")
        except ValueError:
            continue
        if _canonical(running_input) == wanted:
            return Started("", item["executionArn"], attached=True)
    name = f"cli-fleet-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    answer = aws_call("start-execution of the fleet", lambda: client.start_execution(stateMachineArn=machine, name=name, input=json.dumps(fleet_input)))
    return Started("", answer["executionArn"], attached=False)


def _canonical(fleet_input: Any) -> str:
    """A fleet input with its id lists as sets: the same selection in another order is the same fleet."""
    if not isinstance(fleet_input, dict):
        return json.dumps(fleet_input)
    return json.dumps({key: sorted(str(item).lower() for item in value) if key in FLEET_SELECTORS and isinstance(value, list) else value
                       for key, value in fleet_input.items()}, sort_keys=True)


def fleet_children(client: StepFunctionsOnAws, fleet_arn: str, known: dict[str, FleetChild] | None = None) -> dict[str, FleetChild]:
    """The connections a fleet execution has started so far: connection id -> its child run.

    Read through the Map Run APIs: ListMapRuns on the fleet execution; ListExecutions by
    `mapRunArn` for its iterations (a page holds 1,000); and, for each iteration, its history,
    where the TaskScheduled event of `states:startExecution.sync:2` carries the child's input
    (its connectionId) and the TaskSubmitted event the child's executionArn. Give the previous
    answer as `known` to pay only for what changed: an iteration whose child is known is not
    read again, and a child is described once, when its iteration has ended (its status then;
    RUNNING before). So a look at a fleet of 1,000 connections costs two calls, plus one per
    iteration started since the last look and one per iteration ended since; the first look
    at a fleet under way costs one per started connection. Callers pace their looks
    (FLEET_REFRESH_SECONDS)."""
    children = dict(known or {})
    by_iteration = {child.iteration_arn: child for child in children.values() if child.iteration_arn}
    map_runs = aws_call("list-map-runs", lambda: client.list_map_runs(executionArn=fleet_arn)).get("mapRuns", [])
    for map_run in map_runs:
        for iteration in _map_run_iterations(client, map_run["mapRunArn"]):
            arn, status = iteration["executionArn"], iteration["status"]
            child = by_iteration.get(arn)
            if child is None:
                found = _child_of_iteration(client, arn)
                if found is None:
                    continue  # not started its child yet: looked at again next time
                child = FleetChild(found[0], found[1], "RUNNING", arn)
                children[child.connection_id] = by_iteration[arn] = child
            if status != "RUNNING" and child.status == "RUNNING":
                description = aws_call("describe-execution", lambda: client.describe_execution(executionArn=child.execution_arn))  # noqa: B023 - aws_call calls it at once
                child.status, child.stop_date = description["status"], description.get("stopDate")
    return children


def _map_run_iterations(client: StepFunctionsOnAws, map_run_arn: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = aws_call("list-executions of a map run", lambda: client.list_executions(
            mapRunArn=map_run_arn, maxResults=1000, **({"nextToken": token} if token else {})))  # noqa: B023 - aws_call calls it at once
        yield from page.get("executions", [])
        token = page.get("nextToken")
        if not token:
            return


def _child_of_iteration(client: StepFunctionsOnAws, iteration_arn: str) -> tuple[str, str] | None:
    """(connection id, child execution ARN) of the run an iteration started, from its history."""
    history = aws_call("get-execution-history", lambda: history_of(client, iteration_arn))
    connection: str | None = None
    for event in history:
        if event["type"] == "ExecutionStarted":
            connection = connection or _connection_in((event.get("executionStartedEventDetails") or {}).get("input"))
        elif event["type"] == "TaskScheduled":
            details = event.get("taskScheduledEventDetails") or {}
            if str(details.get("resource", "")).startswith("startExecution"):
                parameters = _parsed_object(details.get("parameters"))
                connection = _connection_in(parameters.get("Input")) or connection
        child = started_child(event)
        if child is not None:
            if connection is None:
                connection = connection_of(client, child)
            return (connection, child) if connection else None
    return None


def _parsed_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _connection_in(value: Any) -> str | None:
    connection = _parsed_object(value).get("connectionId")
    return connection.lower() if isinstance(connection, str) else None


def fleet_connections(result: RunResult, children: dict[str, FleetChild] | None = None) -> list[dict[str, Any]]:
    """Each connection of a fleet as --json shows it: connectionId, outcome (null while it
    runs), executionArn (null when not started) and status (its run's, where it was read).
    From the fleet's answer once it has one (its output; when it failed, the failed ones its
    cause lists), and from its children (`fleet_children`) as far as they were read."""
    listed: dict[str, dict[str, Any]] = {}
    answer = result.output if isinstance(result.output, dict) else {}
    entries = [item for item in answer.get("connections") or [] if isinstance(item, dict)]
    cause = _parsed_object(result.cause) if result.error == "ForEachFailed" else {}
    entries += [{**item, "outcome": "failed"} for item in cause.get("failed") or [] if isinstance(item, dict)]
    for item in entries:
        connection = item.get("connectionId")
        if isinstance(connection, str):
            listed[connection.lower()] = {"connectionId": connection.lower(), "outcome": item.get("outcome"),
                                          "executionArn": item.get("executionArn"), "status": None}
    for connection, child in (children or {}).items():
        entry = listed.setdefault(connection, {"connectionId": connection, "outcome": None, "executionArn": child.execution_arn, "status": None})
        entry["executionArn"] = entry["executionArn"] or child.execution_arn
        entry["status"] = child.status
    return list(listed.values())


def fleet_counts(result: RunResult, connections: list[dict[str, Any]]) -> dict[str, int]:
    """Connections by outcome: the fleet's own counts once it has them, else counted."""
    answer = result.output if isinstance(result.output, dict) else {}
    if isinstance(answer.get("counts"), dict):
        return {**dict.fromkeys(FLEET_OUTCOMES, 0), **answer["counts"]}
    counts = {**dict.fromkeys(FLEET_OUTCOMES, 0), "running": 0}
    for item in connections:
        outcome = item.get("outcome") or ("running" if item.get("status") == "RUNNING" else None)
        if outcome is None and item.get("status"):
            outcome = "succeeded" if item["status"] == "SUCCEEDED" else "failed"
        if outcome in counts:
            counts[outcome] += 1
    if not counts["running"]:
        del counts["running"]
    return counts


def fleet_document(result: RunResult, children: dict[str, FleetChild] | None = None) -> dict[str, Any]:
    """A fleet as every --json prints it: the run's shape with `connectionId` null and its
    connections instead."""
    return {**run_document(result), "connectionId": None, "connections": fleet_connections(result, children)}


def print_fleet_result(out: TextIO, result: RunResult, children: dict[str, FleetChild] | None = None) -> None:
    """The end of a fleet for a person: one line per connection, the counts, and the fleet's
    error with its cause."""
    out.write(f"\nFleet {result.status} after {result.events} history events.\n")
    answer = result.output if isinstance(result.output, dict) else {}
    cause = _parsed_object(result.cause) if result.error == "ForEachFailed" else {}
    details = {str(item.get("connectionId", "")).lower(): item
               for item in [*(answer.get("connections") or []), *(cause.get("failed") or [])] if isinstance(item, dict)}
    connections = fleet_connections(result, children)
    for item in connections:
        detail = details.get(item["connectionId"], {})
        outputs = detail.get("outputs") if isinstance(detail.get("outputs"), dict) else {}
        if outputs:
            said = " ".join(f"{key}={outputs[key]}" for key in ("resetJobId", "resyncJobId", "resyncStatus", "rowsSynced", "bytesSynced") if key in outputs)
        else:
            said = ": ".join(str(part) for part in (detail.get("error"), readable_cause(detail.get("cause")).splitlines()[0] if detail.get("cause") else None) if part)
        outcome = item["outcome"] or (item["status"] or "-").lower()
        out.write(f"  {outcome:<10} {item['connectionId']:<36}  {said}".rstrip() + "\n")
    counts = fleet_counts(result, connections)
    # Without the fleet's answer (it failed), the counts are of the connections read.
    label = "Counts" if isinstance(answer.get("counts"), dict) else "Counts of the connections known"
    out.write(f"{label}: {_counts_line(counts)}\n")
    if result.error:
        out.write(f"Error: {result.error}\nCause: {readable_cause(result.cause)}\n")


def print_fleet_status(out: TextIO, result: RunResult, children: dict[str, FleetChild] | None) -> None:
    """A fleet for a person: its end as `print_fleet_result` says it, or, under way, each
    connection started so far with its run's status, and the counts."""
    if result.status in TERMINAL:
        print_fleet_result(out, result, children)
        return
    out.write(f"Fleet {result.status} ({result.events} history events so far).\n")
    for child in (children or {}).values():
        out.write(f"  {child.status:<10} {child.connection_id:<36}  {child.execution_arn}\n")
    out.write("Counts: " + _counts_line(_running_counts(children or {})) + "\n")


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


def request_fleet(events_client: EventBridge, fleet_input: dict[str, Any]) -> str:
    """Put the fleet's EventBridge event (its detail is the fleet input). Its event id."""
    return _put_event(events_client, FLEET_DETAIL_TYPE, fleet_input)


# (client, fleet execution, the children found before) -> the children now: fleet_children's shape.
ChildrenFinder = Callable[[StepFunctionsOnAws, str, "dict[str, FleetChild] | None"], "dict[str, FleetChild]"]


def children_of_machine(run_machine: str) -> ChildrenFinder:
    """A finder of a fleet's children for where the run's state machine runs this fleet's
    children and nothing else (a local run's own moto, which lists no Map Run iterations):
    every execution of `run_machine` is one, its connection in its input. One ListExecutions a
    look, and one DescribeExecution per execution found or ended since the last."""

    def find(client: StepFunctionsOnAws, fleet_arn: str, known: dict[str, FleetChild] | None = None) -> dict[str, FleetChild]:
        children = dict(known or {})
        by_arn = {child.execution_arn: child for child in children.values()}
        for item in executions(client, run_machine):
            child = by_arn.get(item["executionArn"])
            if child is None:
                connection = connection_of(client, item["executionArn"])
                if connection is None:
                    continue
                child = children[connection] = FleetChild(connection, item["executionArn"], "RUNNING")
            child.status, child.stop_date = item["status"], item.get("stopDate")
        return children

    return find


@dataclass
class _FollowedChild:
    child: FleetChild
    follower: Follower
    history: list[Event]
    attempts: _FailedAttempts
    ended: bool = False  # its history was read after it ended
    read_at: float = float("-inf")


def watch_fleet(client: StepFunctionsOnAws, fleet_arn: str, *,
                on_child: Callable[[FleetChild, datetime], None] | None = None,
                on_transition: Callable[[str, Transition], None] | None = None,
                on_failure: Callable[[str, str, str, str, list[str]], None] | None = None,
                on_end: Callable[[FleetChild], None] | None = None,
                on_counts: Callable[[dict[str, int]], None] | None = None,
                pause: float | None = None, refresh: float | None = None,
                find_children: ChildrenFinder | None = None) -> tuple[RunResult, dict[str, FleetChild]]:
    """Follow a fleet execution to its end, and each connection's run it starts: `on_child(child,
    its start)` when one is found, `on_transition(child execution, transition)` and
    `on_failure(child execution, ...)` as `watch` reports them, `on_end(child)` when one has
    ended, `on_counts` when the counts change. The children are looked for at most every
    `refresh` seconds (fleet_children), and running children are read at most
    HISTORY_READS_PER_SECOND a second. `find_children` finds them (default: fleet_children;
    a local run gives `children_of_machine`). Never stops anything. (its result, its children)."""
    find = find_children or fleet_children
    pause = WATCH_PAUSE_SECONDS if pause is None else pause
    refresh = FLEET_REFRESH_SECONDS if refresh is None else refresh
    children: dict[str, FleetChild] = {}
    followed: dict[str, _FollowedChild] = {}
    counts: dict[str, int] = {}
    looked_at = float("-inf")
    ending = False
    while True:
        if not ending:
            ending = aws_call("describe-execution", lambda: client.describe_execution(executionArn=fleet_arn))["status"] in TERMINAL
            # Read before the children, so the last look holds the end of each.
            if ending or time.monotonic() - looked_at >= refresh:
                found = len(children)
                children = find(client, fleet_arn, children)
                looked_at = time.monotonic()
        for child in children.values():
            if child.execution_arn not in followed:
                followed[child.execution_arn] = _FollowedChild(child, Follower(child.execution_arn, JobTransitions(), child_reader=JobTransitions),
                                                               [], _FailedAttempts())
        # The runs read longest ago first, a batch at a time: a look at 1,000 runs spreads over passes.
        batch = sorted((item for item in followed.values() if not item.ended), key=lambda item: item.read_at)[:CHILD_READS_PER_PASS]
        for item in batch:
            _read_child(client, item, ending, on_child, on_transition, on_failure, on_end)
        now_counts = _running_counts(children)
        if now_counts != counts and children and on_counts:
            on_counts(now_counts)
        counts = now_counts
        if ending and all(item.ended for item in followed.values()):
            return result_of(client, fleet_arn), children
        calls = len(batch) + max(0, len(children) - found)  # a new child cost its iteration's history
        found = len(children)
        time.sleep(max(pause, calls / HISTORY_READS_PER_SECOND))


def _read_child(client: StepFunctionsOnAws, item: _FollowedChild, fleet_ended: bool,
                on_child: Callable[[FleetChild, datetime], None] | None,
                on_transition: Callable[[str, Transition], None] | None,
                on_failure: Callable[[str, str, str, str, list[str]], None] | None,
                on_end: Callable[[FleetChild], None] | None) -> None:
    """Read a child's new events and report them; once it is known to have ended (or its fleet
    has), this read holds its end and it is not read again."""
    ended = item.child.status != "RUNNING" or fleet_ended  # known before this read
    new = aws_call("get-execution-history", lambda: history_since(client, item.child.execution_arn, item.history[-1]["id"] if item.history else 0))
    item.read_at = time.monotonic()
    if new and not item.history and on_child:
        on_child(item.child, new[0]["timestamp"])
    item.history += new
    events = aws_call("get-execution-history", lambda: item.follower.read(item.history, lambda child, after: history_since(client, child, after)))
    for source, event, transition in events:
        if transition and on_transition:
            on_transition(item.child.execution_arn, transition)
        failed = item.attempts.read(source, event)
        if failed and on_failure:
            on_failure(item.child.execution_arn, *failed)
    if ended:
        item.ended = True
        if on_end:
            on_end(item.child)


def _running_counts(children: dict[str, FleetChild]) -> dict[str, int]:
    """A fleet under way: its started connections by how their runs stand."""
    counts = {"running": 0, "succeeded": 0, "failed": 0}
    for child in children.values():
        counts["running" if child.status == "RUNNING" else "succeeded" if child.status == "SUCCEEDED" else "failed"] += 1
    return counts
