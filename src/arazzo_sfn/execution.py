"""Execute an ASL definition once in moto's Step Functions engine, with its Lambda tasks
bound to in-process handlers, and follow it to the end. Shared by every local runner:
`arazzo_sfn.local_run` for any compiled Arazzo workflow, and the applications built on the
toolkit."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import boto3

from arazzo_sfn.engine import ACCOUNT_ID, REGION, Handler, LocalFunctions, local_aws, until_an_execution_ends
from arazzo_sfn.history import Event, RunResult, StepFunctions, TransitionReader, follow, history_of

# What the local process needs besides the functions' own environment: a region for the
# AWS clients.
LOCAL_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_DEV": "false",
}


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
    follow_with: Callable[[StepFunctions, str], RunResult] | None = None,
) -> RunResult:
    """Create the state machine in moto, start one execution and wait for it to end.
    `prepare` runs inside the mocked AWS first (to create what the functions read);
    `other_machines` (name -> definition) are created first, for child executions;
    `wait_sleep(seconds)`, when given, stands for every Wait state's wait (a test's clock);
    with `child_reader` (a new transition reader for each child), the transitions of the child
    executions it starts are reported too, as they happen (not kept in the result's).
    `follow_with(client, execution ARN)`, when given, follows the execution to its end in the
    place of `follow` (a follower of its own, such as a fleet's over its child executions;
    `timeout_seconds` and `on_transition` are then its to keep) and returns its result."""
    with _local_run(functions, variables, retry_sleep, prepare, wait_sleep) as (client, captured):
        for name, other in (other_machines or {}).items():
            _create_machine(client, name, other)
        machine = _create_machine(client, machine_name, definition)
        execution = _start(client, machine, execution_input)
        if follow_with is not None:
            result = follow_with(client, execution)
        else:
            result = follow(client, execution, read_transition, on_transition, timeout_seconds, child_reader, pause=until_an_execution_ends())
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
            results.append(follow(client, execution, lambda event, start: None, None, remaining, pause=until_an_execution_ends()))
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
