"""Run a compiled workflow on one machine: moto's Step Functions engine executes the ASL,
and every step's task invokes the generic operation function in-process, which calls the
API at the server URL given for the run."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import boto3

from arazzo_sfn import execution, history
from arazzo_sfn.engine import REGION, Handler, LocalFunctions, function_arn, one_at_a_time, state_machine_arn
from arazzo_sfn.execution import LOCAL_ENVIRONMENT
from arazzo_sfn.history import Event, RunResult
from arazzo_sfn.lower import state_machine_placeholder
from arazzo_sfn.lower.foreach import COUNTER_TABLE_PLACEHOLDER


def operation_function() -> Path:
    """The generic operation function's module: package data of an installed arazzo_sfn (copied
    there when the wheel is built: see setup.py), the checkout's functions/operation/app.py in a
    checkout or an editable install of it."""
    packaged = resources.files("arazzo_sfn") / "operation_function" / "app.py"
    # An installed wheel is a folder on disk; a zipped install cannot hand the function to the engine.
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "functions" / "operation" / "app.py"


OPERATION_FUNCTION = operation_function()
OPERATION_HANDLER = "lambda_handler"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
FUNCTION_NAME_PREFIX = "arazzo-local-"
LOCAL_COUNTER_TABLE = "arazzo-local-for-each-counts"
# The operation function prefers SERVER_URL_<SOURCE> to SERVER_URL; the run is about one
# server, so those are hidden while it lasts.
SOURCE_URL_PREFIX = "SERVER_URL_"
# Powertools needs a metrics namespace to flush the function's metrics; these apply unless
# the environment already names its own.
POWERTOOLS_DEFAULTS = {"POWERTOOLS_SERVICE_NAME": "arazzo-workflow", "POWERTOOLS_METRICS_NAMESPACE": "ArazzoWorkflow"}


@dataclass
class StepTransition(history.Transition):
    """One state the execution went through; for a step's task, the HTTP status it got."""

    status_code: int | None = None


def run_workflow(
    asl: dict[str, Any],
    execution_input: dict[str, Any],
    server_url: str,
    *,
    children: dict[str, dict[str, Any]] | None = None,
    retry_sleep: Callable[[float], None] | None = None,
    wait_sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 3600,
    on_transition: Callable[[StepTransition], None] | None = None,
    function_path: Path = OPERATION_FUNCTION,
) -> RunResult:
    """Execute a compiled workflow once in moto and wait for it to end.

    `children` are the state machines of the workflows it starts as child executions
    (workflowId -> ASL, as `compile_bundle` gives them): each is created beside it, and every
    `${<WorkflowId>StateMachineArn}` placeholder is bound to its ARN. Every other `${...}`
    placeholder is bound to the operation function (`function_path`), imported afresh for the
    run as a new deployment would be. `retry_sleep(seconds)` and `wait_sleep(seconds)`, when
    given, stand for the Task retries' backoffs and the Wait states' waits (a test's clock).
    """
    if not function_path.is_file():
        raise FileNotFoundError(f"the operation function {function_path} does not exist")
    handler = one_at_a_time(execution.deferred(lambda: execution.import_handler(function_path, OPERATION_HANDLER, "local_function_operation")))
    functions = LocalFunctions()
    machines = {_machine_name(workflow_id): child for workflow_id, child in (children or {}).items()}
    arns = {state_machine_placeholder(workflow_id): state_machine_arn(_machine_name(workflow_id)) for workflow_id in children or {}}
    bound = {name: bind_functions(bind_counter_table(bind_state_machines(json.dumps(definition), arns)), functions, handler) for name, definition in machines.items()}
    definition = bind_functions(bind_counter_table(bind_state_machines(json.dumps(asl), arns)), functions, handler)
    variables: dict[str, str | None] = {name: None for name in os.environ if name.startswith(SOURCE_URL_PREFIX)}
    variables.update({name: os.environ.get(name) or value for name, value in POWERTOOLS_DEFAULTS.items()})
    variables.update({**LOCAL_ENVIRONMENT, "SERVER_URL": server_url})
    return execution.execute(
        definition,
        execution_input,
        functions,
        machine_name=_machine_name(_workflow_id(asl)),
        variables=variables,
        read_transition=_StepTransitions(),
        on_transition=on_transition,
        retry_sleep=retry_sleep,
        wait_sleep=wait_sleep,
        timeout_seconds=timeout_seconds,
        other_machines=bound,
        prepare=create_counter_table,
    )


def bind_counter_table(definition: str) -> str:
    """Replace the `${ForEachCounterTableName}` placeholder (the counts of a step with
    x-for-each) with the table the run creates (`create_counter_table`)."""
    return definition.replace("${" + COUNTER_TABLE_PLACEHOLDER + "}", LOCAL_COUNTER_TABLE)


def create_counter_table() -> None:
    """The table of the x-for-each counts, as a deployment gives it: string partition key
    `id`. Created in the mocked AWS of every run (an empty table costs nothing there)."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=LOCAL_COUNTER_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def bind_state_machines(definition: str, arns: dict[str, str]) -> str:
    """Replace each `${<WorkflowId>StateMachineArn}` placeholder with its state machine's ARN."""
    for placeholder, arn in arns.items():
        definition = definition.replace("${" + placeholder + "}", arn)
    missing = sorted(name for name in PLACEHOLDER.findall(definition) if name.endswith("StateMachineArn"))
    if missing:
        raise ValueError(f"no child state machine is given for {', '.join(missing)}")
    return definition


def bind_functions(definition: str, functions: LocalFunctions, handler: Handler) -> str:
    """Replace each placeholder with a function ARN of its own, all bound to `handler` (one
    function: `one_at_a_time` already), so the recorded invocations still say which
    placeholder (which step) was called."""

    def bind(match: re.Match[str]) -> str:
        arn = function_arn(FUNCTION_NAME_PREFIX + match.group(1))
        if arn not in functions.handlers:
            functions.register(arn, handler, exclusive=False)
        return arn

    return PLACEHOLDER.sub(bind, definition)


def _workflow_id(asl: dict[str, Any]) -> str:
    # The comment starts with the workflowId.
    return str(asl.get("Comment") or "").split(":", 1)[0]


def _machine_name(workflow_id: str) -> str:
    # State machine names allow a narrower alphabet than workflow ids.
    name = re.sub(r"[^A-Za-z0-9_-]", "-", workflow_id)[:80]
    return name or "ArazzoWorkflow"


class _StepTransitions:
    """Reads transitions from history events; a task's HTTP status comes from the event
    that reports the function's result, just before the state exits."""

    def __init__(self) -> None:
        self.status_code: int | None = None

    def __call__(self, event: Event, start: datetime) -> StepTransition | None:
        kind = event["type"]
        elapsed = (event["timestamp"] - start).total_seconds()
        if kind == "TaskStateEntered":
            self.status_code = None
        elif kind == "TaskSucceeded":
            self.status_code = _status_code(event.get("taskSucceededEventDetails", {}).get("output"))
        elif kind.endswith("StateExited"):
            state_type = kind[: -len("StateExited")]
            status = self.status_code if state_type == "Task" else None
            return StepTransition(event["stateExitedEventDetails"]["name"], state_type, elapsed, status)
        elif kind == "FailStateEntered":
            return StepTransition(event["stateEnteredEventDetails"]["name"], "Fail", elapsed)
        return None


def _status_code(output: str | None) -> int | None:
    try:
        status = json.loads(output or "{}").get("Payload", {}).get("statusCode")
    except (ValueError, AttributeError):
        return None
    return status if isinstance(status, int) and not isinstance(status, bool) else None
