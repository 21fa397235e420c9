"""Execute an ASL definition once in moto's Step Functions engine, with its Lambda tasks
bound to in-process handlers, and follow it to the end. Shared by every local runner:
`arazzo_sfn.local_run` for any compiled Arazzo workflow, and the applications built on the
toolkit."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import boto3

from arazzo_sfn.engine import ACCOUNT_ID, REGION, Handler, LocalFunctions, local_aws

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# One event of an execution's history, as the Step Functions API returns it.
Event = dict[str, Any]


class StepFunctions(Protocol):
    """What the runners call of boto3's Step Functions client, whose calls boto3 does not type."""

    def create_state_machine(self, *, name: str, definition: str, roleArn: str) -> dict[str, Any]: ...

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]: ...

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]: ...

    def stop_execution(self, *, executionArn: str, error: str, cause: str) -> dict[str, Any]: ...

    # executionArn, maxResults, reverseOrder, nextToken.
    def get_execution_history(self, **arguments: Any) -> dict[str, Any]: ...

    def list_state_machines(self) -> dict[str, Any]: ...

    def get_paginator(self, operation_name: str) -> Any: ...

# What the local process needs besides the functions' own environment: a region for the
# AWS clients.
LOCAL_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_DEV": "false",
}


@dataclass
class Transition:
    """One state the execution went through."""

    state: str
    state_type: str
    elapsed: float
    # For a state of a child execution: the state of the followed execution that started the
    # child (keyword-only: subclasses add fields).
    started_by: str | None = field(default=None, kw_only=True)


@dataclass
class RunResult:
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: int | None
    transitions: list[Transition] = field(default_factory=list)
    history: list[Event] = field(default_factory=list)
    function_logs: str = ""
    execution_arn: str = ""
    # The history of each child execution the run started, in the order they started.
    child_histories: list[list[Event]] = field(default_factory=list)
    input: Any = None
    start_date: str | None = None  # ISO 8601, as Step Functions reports them
    stop_date: str | None = None

    @property
    def name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1] if self.execution_arn else ""

    def to_json(self) -> dict[str, Any]:
        """The one shape every command prints a run in: which execution, how it stands or
        ended, and what it returned. `events` is null where the history was not read."""
        return {"executionArn": self.execution_arn, "name": self.name, "status": self.status,
                "startDate": self.start_date, "stopDate": self.stop_date, "error": self.error, "cause": self.cause,
                "output": self.output, "events": self.events}


def result_from_description(description: Mapping[str, Any], history: list[Event] | None = None, **extra: Any) -> RunResult:
    """A run as DescribeExecution reports it (with its history, when it was read)."""
    output, execution_input = description.get("output"), description.get("input")
    return RunResult(
        status=description["status"], output=json.loads(output) if output else None,
        error=description.get("error"), cause=description.get("cause"),
        events=len(history) if history is not None else None, history=history or [],
        execution_arn=description["executionArn"], input=_parsed(execution_input),
        start_date=_iso(description.get("startDate")), stop_date=_iso(description.get("stopDate")), **extra,
    )


def _parsed(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _iso(moment: Any) -> str | None:
    if hasattr(moment, "isoformat"):
        return str(moment.isoformat())
    return moment if isinstance(moment, str) else None


# Turns one history event into a transition (or None); given the history's start time.
# Made fresh for each run, so it may remember what earlier events said.
TransitionReader = Callable[[Event, Any], "Transition | None"]


class SwitchableStream(io.TextIOBase):
    """Where the handlers' stdout goes (Powertools logs and EMF metrics). Powertools binds
    its handler to sys.stdout once, at import, so the target is switched per run instead."""

    def __init__(self) -> None:
        self.target: TextIO = io.StringIO()

    def write(self, text: str) -> int:
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()


FUNCTION_OUTPUT = SwitchableStream()
_loaded_handlers: dict[Path, Handler] = {}


def import_handler(path: Path, function_name: str, module_name: str) -> Handler:
    """Import a handler from its file, as a new module (a cold start)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import a handler from {path}")
    module = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(FUNCTION_OUTPUT):
        spec.loader.exec_module(module)
    handler = getattr(module, function_name)
    if not callable(handler):
        raise ImportError(f"{function_name} of {path} is not a function")
    return handler  # type: ignore[no-any-return]  # callable() does not say what it takes; a Lambda handler takes (event, context)


def load_handler(path: Path, function_name: str, module_name: str) -> Handler:
    """Import the handler the way Lambda does: once per process (warm invocations reuse it)."""
    path = path.resolve()
    if path not in _loaded_handlers:
        _loaded_handlers[path] = import_handler(path, function_name, module_name)
    return _loaded_handlers[path]


def deferred(load: Callable[[], Handler]) -> Handler:
    """A handler that is loaded on its first invocation: inside the run's environment
    (Powertools reads it at import), and only when some state actually calls it."""
    loaded: list[Handler] = []

    def invoke(event: Any, context: Any) -> Any:
        if not loaded:
            loaded.append(load())
        return loaded[0](event, context)

    return invoke


@contextlib.contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables; put everything back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def execute(
    definition: str,
    execution_input: Any,
    functions: LocalFunctions,
    *,
    machine_name: str,
    variables: Mapping[str, str | None],
    read_transition: TransitionReader,
    on_transition: Callable[[Any], None] | None = None,
    retry_sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 3600,
    prepare: Callable[[], None] | None = None,
    other_machines: Mapping[str, str] | None = None,
    wait_sleep: Callable[[float], None] | None = None,
    child_reader: Callable[[], TransitionReader] | None = None,
) -> RunResult:
    """Create the state machine in moto, start one execution and wait for it to end.
    `prepare` runs inside the mocked AWS first (to create what the functions read);
    `other_machines` (name -> definition) are created first, for child executions;
    `wait_sleep(seconds)`, when given, stands for every Wait state's wait (a test's clock);
    with `child_reader` (a new transition reader for each child), the transitions of the child
    executions it starts are reported too, as they happen (not kept in the result's)."""
    with _local_run(functions, variables, retry_sleep, prepare, wait_sleep) as (client, captured):
        for name, other in (other_machines or {}).items():
            _create_machine(client, name, other)
        machine = _create_machine(client, machine_name, definition)
        execution = _start(client, machine, execution_input)
        result = follow(client, execution, read_transition, on_transition, timeout_seconds, child_reader)
        result.child_histories = _child_histories(client, machine)
    result.function_logs = captured.getvalue()
    return result


def execute_many(
    definition: str,
    execution_inputs: list[Any],
    functions: LocalFunctions,
    *,
    machine_name: str,
    variables: Mapping[str, str | None],
    retry_sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 3600,
    prepare: Callable[[], None] | None = None,
    other_machines: Mapping[str, str] | None = None,
) -> list[RunResult]:
    """Start one execution per input, all at once, and wait for every one to end: moto runs
    them on threads of their own, as Step Functions runs them side by side. Each result's
    `function_logs` holds what every function logged during the whole run."""
    with _local_run(functions, variables, retry_sleep, prepare) as (client, captured):
        for name, other in (other_machines or {}).items():
            _create_machine(client, name, other)
        machine = _create_machine(client, machine_name, definition)
        executions = [_start(client, machine, execution_input) for execution_input in execution_inputs]
        started = time.monotonic()
        results = []
        for execution in executions:
            remaining = max(timeout_seconds - (time.monotonic() - started), 0)
            results.append(follow(client, execution, lambda event, start: None, None, remaining))
    for result in results:
        result.function_logs = captured.getvalue()
    return results


@contextlib.contextmanager
def _local_run(
    functions: LocalFunctions,
    variables: Mapping[str, str | None],
    retry_sleep: Callable[[float], None] | None,
    prepare: Callable[[], None] | None,
    wait_sleep: Callable[[float], None] | None = None,
) -> Iterator[tuple[StepFunctions, io.StringIO]]:
    FUNCTION_OUTPUT.target = captured = io.StringIO()
    with environment(variables), contextlib.redirect_stdout(FUNCTION_OUTPUT), _function_log_handlers(), local_aws(functions, retry_sleep, wait_sleep=wait_sleep):
        if prepare is not None:
            prepare()
        yield boto3.client("stepfunctions", region_name=REGION), captured


def _create_machine(client: StepFunctions, name: str, definition: str) -> str:
    return str(client.create_state_machine(name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/local-state-machine")["stateMachineArn"])


def _start(client: StepFunctions, machine: str, execution_input: Any) -> str:
    return str(client.start_execution(stateMachineArn=machine, name=f"local-{uuid.uuid4()}", input=json.dumps(execution_input))["executionArn"])


@contextlib.contextmanager
def _function_log_handlers() -> Iterator[None]:
    """Powertools binds its log handler to the stdout of the moment it is imported. A
    handler imported before this run (by another run, or a test) would write elsewhere:
    point every handler that writes to standard output at the function output for the run."""
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    for logger in [logging.getLogger(), *logging.root.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            stream = getattr(handler, "stream", None)
            if type(handler) is logging.StreamHandler and stream is not None and stream is not sys.stderr and stream is not sys.__stderr__ and stream is not FUNCTION_OUTPUT:
                moved.append((handler, handler.setStream(FUNCTION_OUTPUT)))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


# The events that end an execution's history.
END_EVENTS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})


def started_child(event: Mapping[str, Any]) -> str | None:
    """The execution a `states:startExecution` task started, read from its TaskSubmitted event."""
    if event.get("type") != "TaskSubmitted":
        return None
    details = event.get("taskSubmittedEventDetails") or {}
    if details.get("resourceType") != "states" or not str(details.get("resource", "")).startswith("startExecution"):
        return None
    try:
        started = json.loads(details.get("output") or "{}")
    except ValueError:
        return None
    arn = started.get("ExecutionArn") if isinstance(started, dict) else None
    return arn if isinstance(arn, str) else None


class Children:
    """The child executions a history starts, the state that started each, and each one's
    events not yet seen."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}  # child -> the id of its last event returned
        self._ended: set[str] = set()
        self.started_by: dict[str, str | None] = {}
        self._state: str | None = None

    def note(self, event: Mapping[str, Any]) -> None:
        """Read one event of the parent's history, in order."""
        if event["type"].endswith("StateEntered"):
            self._state = event["stateEnteredEventDetails"]["name"]
        arn = started_child(event)
        if arn and arn not in self._seen:
            self._seen[arn] = 0
            self.started_by[arn] = self._state

    def new_events(self, read_since: Callable[[str, int], list[Event]]) -> list[tuple[str, Event]]:
        """(child ARN, event) for each event of a running child not returned before, in order;
        `read_since(arn, event id)` reads a child's events after that one (`history_since`)."""
        found: list[tuple[str, Event]] = []
        for arn, seen in list(self._seen.items()):
            if arn in self._ended:
                continue
            for event in read_since(arn, seen):
                found.append((arn, event))
                self._seen[arn] = max(self._seen[arn], event["id"])
                if event["type"] in END_EVENTS:
                    self._ended.add(arn)
        return found


class Follower:
    """The new events of a followed execution and, with `child_reader` (a new transition reader
    for each child), of the child executions it starts, in time order, each with the transition
    it makes (a child's carries `started_by`)."""

    def __init__(self, execution: str, read_transition: TransitionReader, child_reader: Callable[[], TransitionReader] | None = None):
        self.execution, self.read_transition, self.child_reader = execution, read_transition, child_reader
        self.children = Children()
        self._seen = 0
        self._child_readers: dict[str, TransitionReader] = {}

    def read(self, history: list[Event], read_since: Callable[[str, int], list[Event]]) -> list[tuple[str, Event, Transition | None]]:
        """(source execution, event, transition or None) for each event not returned before;
        `history` is the followed execution's whole history as read now, `read_since` reads a
        child's events after one (`history_since`)."""
        events = [(self.execution, event) for event in history[self._seen:]]
        self._seen = len(history)
        for _, event in events:
            self.children.note(event)
        if self.child_reader is not None:
            events += self.children.new_events(read_since)
            events.sort(key=lambda item: item[1]["timestamp"])  # stable: the parent's first on a tie
        start = history[0]["timestamp"] if history else None
        found: list[tuple[str, Event, Transition | None]] = []
        for source, event in events:
            if source == self.execution or self.child_reader is None:
                transition = self.read_transition(event, start)
            else:
                if source not in self._child_readers:
                    self._child_readers[source] = self.child_reader()
                transition = self._child_readers[source](event, start)
                if transition:
                    transition = dataclasses.replace(transition, started_by=self.children.started_by[source])
            found.append((source, event, transition))
        return found


# The shortest and the longest pause between two reads of a followed execution.
FOLLOW_PAUSE_SECONDS = (0.05, 0.8)


def follow(
    client: StepFunctions,
    execution: str,
    read_transition: TransitionReader,
    on_transition: Callable[[Any], None] | None,
    timeout_seconds: float,
    child_reader: Callable[[], TransitionReader] | None = None,
) -> RunResult:
    """Poll the execution until it ends, reporting each new transition as it appears; with
    `child_reader` (a new reader for each child), those of the child executions it starts too."""
    started = time.monotonic()
    transitions: list[Transition] = []
    pause = FOLLOW_PAUSE_SECONDS[0]
    follower = Follower(execution, read_transition, child_reader)
    history: list[Event] = []
    while True:
        description = client.describe_execution(executionArn=execution)
        # Only the events not read yet: the whole history at every look costs a read (and, in
        # moto, a serialization) of every event so far, most of a long local run's time.
        history += history_since(client, execution, history[-1]["id"] if history else 0)
        events = follower.read(history, lambda arn, after: history_since(client, arn, after))
        for source, _, transition in events:
            if transition and source == execution:
                transitions.append(transition)
            if transition and on_transition:
                on_transition(transition)
        changed = bool(events)
        # Read again soon after a change, less often while nothing changes: each read
        # competes with the engine's own thread, which a long child execution keeps busy.
        pause = FOLLOW_PAUSE_SECONDS[0] if changed else min(pause * 2, FOLLOW_PAUSE_SECONDS[1])
        if description["status"] in TERMINAL:
            break
        if time.monotonic() - started > timeout_seconds:
            client.stop_execution(executionArn=execution, error="LocalTimeout", cause="the local run took too long")
            continue
        time.sleep(pause)
    return result_from_description(description, history, transitions=transitions)


def _child_histories(client: StepFunctions, root_machine: str) -> list[list[Event]]:
    """The histories of every execution of every state machine but the root's (the run's
    children: each local run has a moto of its own), oldest first."""
    executions: list[dict[str, Any]] = []
    for machine in client.list_state_machines()["stateMachines"]:
        if machine["stateMachineArn"] != root_machine:
            for page in client.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
                executions += page["executions"]
    executions.sort(key=lambda execution: execution["startDate"])
    return [history_of(client, execution["executionArn"]) for execution in executions]


# The first and the largest page of events read at a time, newest first.
HISTORY_PAGE_SIZES = (25, 1000)


def history_since(client: StepFunctions, execution: str, after_id: int) -> list[Event]:
    """The execution's events after event `after_id`, oldest first. Read newest first, a page
    at a time, up to the first event already seen: following a long history (a child's 20,000
    events of polls) costs a call per new page instead of the whole history at every look."""
    events: list[Event] = []
    token: str | None = None
    page_size = HISTORY_PAGE_SIZES[0]  # a look finds a few new events; a long gap, pages that grow
    while True:
        page = client.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=page_size,
                                            **({"nextToken": token} if token else {}))
        events.extend(event for event in page["events"] if event["id"] > after_id)
        token = page.get("nextToken")
        if not token or any(event["id"] <= after_id for event in page["events"]):
            return sorted(events, key=lambda event: event["id"])
        page_size = min(page_size * 4, HISTORY_PAGE_SIZES[1])


def history_of(client: StepFunctions, execution: str) -> list[Event]:
    events: list[Event] = []
    token: str | None = None
    while True:
        page = client.get_execution_history(executionArn=execution, maxResults=1000, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def print_result(out: TextIO, result: RunResult) -> None:
    """The end of a human-readable run: status, outputs, and the error with its cause."""
    out.write(f"\nExecution {result.status} after {result.events} history events.\n")
    if isinstance(result.output, dict) and result.output:
        out.write("Outputs:\n")
        for key, value in result.output.items():
            out.write(f"  {key}: {value if isinstance(value, str) else json.dumps(value)}\n")
    if result.error:
        out.write(f"Error: {result.error}\nCause: {readable_cause(result.cause)}\n")


def readable_cause(cause: str | None) -> str:
    """A function's error message, or a state machine's JSON cause laid out."""
    if not cause:
        return ""
    try:
        data = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(data, dict) and "errorMessage" in data:  # a function's error
        return str(data["errorMessage"])
    return json.dumps(data, indent=2)
