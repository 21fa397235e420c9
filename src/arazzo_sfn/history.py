"""An execution as the Step Functions API shows it, read the same way wherever it runs (moto
here, AWS for the operator's commands): its description as a `RunResult`, its history events
as transitions, the child executions it starts, and an execution followed to its end a look
at a time, reading only the events not seen yet."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

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
    pause: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Poll the execution until it ends, reporting each new transition as it appears; with
    `child_reader` (a new reader for each child), those of the child executions it starts too.
    Between two looks, `pause(seconds)`: a sleep, or one that an engine ends early when an
    execution ends (`arazzo_sfn.engine.until_an_execution_ends`)."""
    started = time.monotonic()
    transitions: list[Transition] = []
    wait = FOLLOW_PAUSE_SECONDS[0]
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
        wait = FOLLOW_PAUSE_SECONDS[0] if changed else min(wait * 2, FOLLOW_PAUSE_SECONDS[1])
        if description["status"] in TERMINAL:
            break
        if time.monotonic() - started > timeout_seconds:
            client.stop_execution(executionArn=execution, error="LocalTimeout", cause="the local run took too long")
            continue
        pause(wait)
    return result_from_description(description, history, transitions=transitions)



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
