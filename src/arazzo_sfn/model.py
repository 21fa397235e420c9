"""Stage 3, model: one workflow of a validated document as plain dataclasses, with each
step's operation resolved in its OpenAPI source and each node's location kept."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from arazzo_sfn.errors import Location, SemanticError
from arazzo_sfn.loader import LoadedDocument
from arazzo_sfn.openapi import Operation, index_operations, resolve_operation_path


@dataclass(frozen=True)
class Criterion:
    condition: str
    type: str  # simple | regex | jsonpath | xpath
    context: str | None
    location: Location
    version: str | None = None


@dataclass(frozen=True)
class FailSpec:
    """`x-fail` on an end action: the workflow ends FAILED with this error and cause."""

    error: str
    cause: dict[str, Any]
    location: Location


@dataclass(frozen=True)
class LoopSpec:
    """`x-loop` on a backward goto: how the loop waits, and when it gives up.

    mode `choice` (the default): Task → Choice → Wait, waiting `wait_seconds` (a number, an
    `$inputs` expression, or an expression about the response, which needs
    `fallback_wait_seconds` for when it does not resolve). mode `retry`: a step that goes back
    to itself becomes its Task's own Retry, waiting `interval_seconds × backoff_rate^n`, at
    most `max_delay_seconds`."""

    wait_seconds: Any  # int or runtime expression text
    max_iterations: Any  # int, runtime expression text, or None (the history budget)
    error: str
    cause: dict[str, Any]
    location: Location
    fallback_wait_seconds: int | None = None
    mode: str = "choice"  # choice | retry
    interval_seconds: int = 5
    backoff_rate: float = 1.1
    max_delay_seconds: int | None = 300
    on_limit: str = "fail"  # fail (the x-loop error) | end (the workflow ends, with its outputs)


@dataclass(frozen=True)
class Action:
    name: str
    type: str  # end | goto | retry
    step_id: str | None
    workflow_id: str | None
    criteria: tuple[Criterion, ...]
    location: Location
    fail: FailSpec | None = None
    loop: LoopSpec | None = None
    retry_after: float | None = None
    retry_limit: int | None = None


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str | None  # path | query | header | cookie | None (workflow inputs)
    value: Any
    location: Location


@dataclass(frozen=True)
class RequestBody:
    content_type: str | None
    payload: Any
    replacements: tuple[dict, ...]
    location: Location


@dataclass(frozen=True)
class Step:
    step_id: str
    index: int
    description: str | None
    operation: Operation | None  # None for a workflowId step
    operation_ref: str | None  # operationId, operationPath or workflowId as written
    target_kind: str  # operationId | operationPath | workflowId
    parameters: tuple[Parameter, ...]
    request_body: RequestBody | None
    success_criteria: tuple[Criterion, ...]
    on_success: tuple[Action, ...] | None
    on_failure: tuple[Action, ...] | None
    outputs: dict[str, str]
    location: Location
    field_locations: dict[str, Location] = field(default_factory=dict)  # key -> where its value is
    retry: tuple[RetryPolicy, ...] | None = None  # the step's own x-task-retry, replacing the workflow's


@dataclass(frozen=True)
class RetryPolicy:
    """`x-task-retry`: a Step Functions Retrier for every step's task."""

    errors: tuple[str, ...]
    interval_seconds: int
    backoff_rate: float
    max_attempts: int
    max_delay_seconds: int | None
    jitter: str | None
    location: Location


@dataclass(frozen=True)
class Workflow:
    workflow_id: str
    summary: str | None
    source_file: str
    inputs: dict[str, Any]
    steps: tuple[Step, ...]
    outputs: dict[str, str]
    retry: tuple[RetryPolicy, ...]
    location: Location
    depends_on: tuple[str, ...] = ()
    success_actions: tuple[Action, ...] = ()
    failure_actions: tuple[Action, ...] = ()
    field_locations: dict[str, Location] = field(default_factory=dict)  # key -> where its value is
    # `x-child-execution: true`: a step that calls this workflow starts it as a child execution
    # of its own state machine, instead of inlining its states.
    child_execution: bool = False

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.step_id == step_id)


def build_workflow(document: LoadedDocument, workflow_id: str | None) -> Workflow:
    return _Builder(document).workflow(workflow_id)


def workflow_ids(document: LoadedDocument) -> list[str]:
    return [w.get("workflowId") for w in document.arazzo.data.get("workflows") or []]


class _Builder:
    """Builds the dataclasses, resolving `$components` references and operations as it goes."""

    def __init__(self, document: LoadedDocument):
        self.document = document
        self.data = document.arazzo.data
        self.locate = document.arazzo.source_map.locate
        self.components = self.data.get("components") or {}
        self.operations = {name: index_operations(name, source) for name, source in document.sources.items()}

    def workflow(self, workflow_id: str | None) -> Workflow:
        workflows = self.data.get("workflows") or []
        locate = self.locate
        if workflow_id is None:
            if len(workflows) != 1:
                ids = ", ".join(str(w.get("workflowId")) for w in workflows)
                raise SemanticError(f"the document has {len(workflows)} workflows ({ids}); choose one with --workflow", locate("/workflows"))
            index = 0
        else:
            matches = [i for i, w in enumerate(workflows) if w.get("workflowId") == workflow_id]
            if not matches:
                raise SemanticError(f"no workflow {workflow_id!r} in the document", locate("/workflows"))
            index = matches[0]
        raw = workflows[index]
        base = f"/workflows/{index}"
        shared = tuple(self.parameter(p, f"{base}/parameters/{i}") for i, p in enumerate(raw.get("parameters") or []))
        steps = tuple(_with_workflow_parameters(self.step(step, i, f"{base}/steps/{i}"), shared) for i, step in enumerate(raw.get("steps", [])))
        return Workflow(
            workflow_id=raw["workflowId"],
            summary=raw.get("summary"),
            source_file=self.document.arazzo.path.name,
            inputs=self.inputs_schema(raw.get("inputs") or {}, f"{base}/inputs"),
            steps=steps,
            outputs=dict(raw.get("outputs") or {}),
            retry=tuple(_retry(r, locate(f"{base}/x-task-retry/{i}")) for i, r in enumerate(raw.get("x-task-retry") or [])),
            location=locate(base),
            depends_on=tuple(raw.get("dependsOn") or ()),
            success_actions=tuple(self.action(a, f"{base}/successActions/{i}", "successActions") for i, a in enumerate(raw.get("successActions") or [])),
            failure_actions=tuple(self.action(a, f"{base}/failureActions/{i}", "failureActions") for i, a in enumerate(raw.get("failureActions") or [])),
            field_locations={key: locate(f"{base}/{key}") for key in raw},
            child_execution=_child_execution(raw.get("x-child-execution", False), locate(f"{base}/x-child-execution")),
        )

    def inputs_schema(self, schema: dict, where: str) -> dict:
        """Inline `$ref: '#/components/inputs/<name>'`, for the schema and its properties."""
        schema = self._input_ref(schema, where)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            schema = {**schema, "properties": {name: self._input_ref(prop, f"{where}/properties/{name}") for name, prop in properties.items()}}
        return schema

    def _input_ref(self, schema: Any, where: str) -> Any:
        if not isinstance(schema, dict) or "$ref" not in schema:
            return schema
        ref = schema["$ref"]
        prefix = "#/components/inputs/"
        target = (self.components.get("inputs") or {}).get(ref[len(prefix):]) if isinstance(ref, str) and ref.startswith(prefix) else None
        if not isinstance(target, dict):
            raise SemanticError(f"inputs $ref {ref!r} is not in components.inputs", self.locate(f"{where}/$ref"))
        return target

    def step(self, raw: dict, index: int, where: str) -> Step:
        kind = next(k for k in ("operationId", "operationPath", "workflowId") if k in raw)
        locate = self.locate
        operation = None
        if kind == "operationId":
            operation = _find_operation(raw["operationId"], self.operations)
        elif kind == "operationPath":
            operation = resolve_operation_path(raw["operationPath"], self.document.sources)
        body = raw.get("requestBody")
        return Step(
            step_id=raw["stepId"],
            index=index,
            description=raw.get("description"),
            operation=operation,
            operation_ref=raw[kind],
            target_kind=kind,
            parameters=tuple(self.parameter(p, f"{where}/parameters/{i}") for i, p in enumerate(raw.get("parameters") or [])),
            request_body=RequestBody(body.get("contentType"), body.get("payload"), tuple(body.get("replacements") or ()), locate(f"{where}/requestBody")) if body else None,
            success_criteria=tuple(_criterion(c, locate(f"{where}/successCriteria/{i}")) for i, c in enumerate(raw.get("successCriteria") or [])),
            on_success=self.actions(raw, "onSuccess", where, "successActions"),
            on_failure=self.actions(raw, "onFailure", where, "failureActions"),
            outputs=dict(raw.get("outputs") or {}),
            location=locate(where),
            field_locations={key: locate(f"{where}/{key}") for key in raw},
            retry=tuple(_retry(r, locate(f"{where}/x-task-retry/{i}")) for i, r in enumerate(raw["x-task-retry"] or [])) if "x-task-retry" in raw else None,
        )

    def actions(self, raw: dict, kind: str, where: str, component_kind: str) -> tuple[Action, ...] | None:
        if kind not in raw:
            return None
        return tuple(self.action(a, f"{where}/{kind}/{i}", component_kind) for i, a in enumerate(raw[kind] or []))

    def action(self, raw: dict, where: str, component_kind: str) -> Action:
        if "reference" in raw:
            name = str(raw["reference"]).removeprefix(f"$components.{component_kind}.")
            target = (self.components.get(component_kind) or {}).get(name)
            if not isinstance(target, dict) or not str(raw["reference"]).startswith(f"$components.{component_kind}."):
                raise SemanticError(f"{raw['reference']!r} is not in components.{component_kind}", self.locate(f"{where}/reference"))
            return self.action(target, f"/components/{component_kind}/{name}", component_kind)
        return _action(raw, where, self.locate)

    def parameter(self, raw: dict, where: str) -> Parameter:
        location = self.locate(where)
        if "reference" in raw:
            name = str(raw["reference"]).removeprefix("$components.parameters.")
            target = (self.components.get("parameters") or {}).get(name)
            if not isinstance(target, dict):
                raise SemanticError(f"{raw['reference']!r} is not in components.parameters", self.locate(f"{where}/reference"))
            # A reference may set the value; the component gives name and location.
            value = raw["value"] if "value" in raw else target.get("value")
            return Parameter(target["name"], target.get("in"), value, location)
        return Parameter(raw["name"], raw.get("in"), raw.get("value"), location)


def _with_workflow_parameters(step: Step, shared: tuple[Parameter, ...]) -> Step:
    """Arazzo 1.0.1: a workflow's parameters apply to each of its steps; a step's own parameter
    of the same name and `in` wins. A step that calls a workflow takes them as inputs (by name).
    A path parameter goes only to the steps whose path has it."""
    if not shared:
        return step
    if step.target_kind == "workflowId":
        own = {p.name for p in step.parameters}
        inherited = [replace(p, where=None) for p in shared if p.name not in own]
    else:
        own = {(p.name, p.where) for p in step.parameters}
        path_names = set(step.operation.path_parameters) if step.operation is not None else set()
        inherited = [p for p in shared if (p.name, p.where) not in own and (p.where != "path" or p.name in path_names)]
    return replace(step, parameters=tuple(inherited) + step.parameters)


def _find_operation(reference: str, operations: dict[str, dict[str, Operation]]) -> Operation:
    if reference.startswith("$sourceDescriptions."):
        source, _, name = reference[len("$sourceDescriptions."):].partition(".")
        return operations[source][name]
    return next(ops[reference] for ops in operations.values() if reference in ops)


def _action(raw: dict, where: str, locate) -> Action:
    location = locate(where)
    fail = raw.get("x-fail")
    loop = raw.get("x-loop")
    return Action(
        name=raw["name"],
        type=raw["type"],
        step_id=raw.get("stepId"),
        workflow_id=raw.get("workflowId"),
        criteria=tuple(_criterion(c, locate(f"{where}/criteria/{i}")) for i, c in enumerate(raw.get("criteria") or [])),
        location=location,
        fail=_fail(fail, locate(f"{where}/x-fail")) if fail is not None else None,
        loop=_loop(loop, locate(f"{where}/x-loop")) if loop is not None else None,
        retry_after=raw.get("retryAfter"),
        retry_limit=raw.get("retryLimit"),
    )


def _criterion(raw: dict, location: Location) -> Criterion:
    kind = raw.get("type", "simple")
    version = None
    if isinstance(kind, dict):
        kind, version = kind.get("type"), kind.get("version")
    return Criterion(raw["condition"], kind, raw.get("context"), location, version)


def _fail(raw: Any, location: Location) -> FailSpec:
    if not isinstance(raw, dict) or not _is_error_name(raw.get("error")):
        raise SemanticError("x-fail needs `error` (a name like ResetFailed) and may have `cause` (a mapping)", location)
    cause = raw.get("cause") or {}
    if not isinstance(cause, dict):
        raise SemanticError("x-fail `cause` must be a mapping of names to values or runtime expressions", location)
    return FailSpec(raw["error"], cause, location)


LOOP_FIELDS = {"waitSeconds", "fallbackWaitSeconds", "maxIterations", "error", "cause", "mode", "intervalSeconds", "backoffRate", "maxDelaySeconds", "onLimit"}


def _loop(raw: Any, location: Location) -> LoopSpec:
    if not isinstance(raw, dict):
        raise SemanticError("x-loop must be a mapping with waitSeconds and maxIterations", location)
    unknown = set(raw) - LOOP_FIELDS
    if unknown:
        raise SemanticError(f"x-loop has unknown field(s): {', '.join(sorted(unknown))}", location)
    error = raw.get("error", "LoopLimitExceeded")
    if not _is_error_name(error):
        raise SemanticError("x-loop `error` must be a name like ResetTimedOut", location)
    cause = raw.get("cause") or {}
    if not isinstance(cause, dict):
        raise SemanticError("x-loop `cause` must be a mapping", location)
    mode = raw.get("mode", "choice")
    if mode not in ("choice", "retry"):
        raise SemanticError("x-loop `mode` must be choice (Task, Choice, Wait: the default) or retry (the Task's own Retry)", location)
    on_limit = raw.get("onLimit", "fail")
    if on_limit not in ("fail", "end"):
        raise SemanticError("x-loop `onLimit` must be fail (the x-loop error: the default) or end (the workflow ends with its outputs)", location)
    fallback = raw.get("fallbackWaitSeconds")
    if fallback is not None and not _non_negative_int(fallback):
        raise SemanticError("x-loop `fallbackWaitSeconds` must be a non-negative integer", location)
    schedule = {key: raw[key] for key in ("intervalSeconds", "backoffRate", "maxDelaySeconds") if key in raw}
    if mode == "choice":
        if schedule:
            raise SemanticError(f"x-loop {', '.join(sorted(schedule))} belong to mode: retry; mode choice waits waitSeconds", location)
    else:
        if "waitSeconds" in raw or fallback is not None:
            raise SemanticError("x-loop mode retry waits on a schedule (intervalSeconds, backoffRate, maxDelaySeconds), not waitSeconds", location)
        if not _non_negative_int(schedule.get("intervalSeconds", 5)) or schedule.get("intervalSeconds", 5) < 1:
            raise SemanticError("x-loop `intervalSeconds` must be an integer of at least 1", location)
        rate = schedule.get("backoffRate", 1.1)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 1:
            raise SemanticError("x-loop `backoffRate` must be a number of at least 1", location)
        ceiling = schedule.get("maxDelaySeconds", 300)
        if ceiling is not None and (not _non_negative_int(ceiling) or ceiling < 1):
            raise SemanticError("x-loop `maxDelaySeconds` must be a positive integer", location)
    return LoopSpec(
        raw.get("waitSeconds", 30), raw.get("maxIterations"), error, cause, location,
        fallback_wait_seconds=fallback, mode=mode,
        interval_seconds=schedule.get("intervalSeconds", 5), backoff_rate=float(schedule.get("backoffRate", 1.1)),
        max_delay_seconds=schedule.get("maxDelaySeconds", 300), on_limit=on_limit,
    )


def _child_execution(value: Any, location: Location) -> bool:
    if not isinstance(value, bool):
        raise SemanticError("x-child-execution must be true (a step calling this workflow starts a child execution) or false (its states are inlined)", location)
    return value


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _retry(raw: Any, location: Location) -> RetryPolicy:
    if not isinstance(raw, dict):
        raise SemanticError("each x-task-retry entry must be a mapping", location)
    errors = raw.get("errors")
    if not isinstance(errors, list) or not errors or not all(_is_error_name(e) or e == "States.ALL" for e in errors):
        raise SemanticError("x-task-retry `errors` must be a non-empty list of error names", location)
    interval, attempts = raw.get("intervalSeconds", 1), raw.get("maxAttempts", 3)
    backoff, max_delay = raw.get("backoffRate", 2.0), raw.get("maxDelaySeconds")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise SemanticError("x-task-retry `intervalSeconds` must be an integer of at least 1", location)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 0 <= attempts <= 99999999:
        raise SemanticError("x-task-retry `maxAttempts` must be a non-negative integer", location)
    if not isinstance(backoff, (int, float)) or isinstance(backoff, bool) or backoff < 1:
        raise SemanticError("x-task-retry `backoffRate` must be a number of at least 1", location)
    if max_delay is not None and (not isinstance(max_delay, int) or isinstance(max_delay, bool) or max_delay < 1):
        raise SemanticError("x-task-retry `maxDelaySeconds` must be a positive integer", location)
    jitter = raw.get("jitterStrategy")
    if jitter not in (None, "FULL", "NONE"):
        raise SemanticError("x-task-retry `jitterStrategy` must be FULL or NONE", location)
    return RetryPolicy(tuple(errors), interval, float(backoff), attempts, max_delay, jitter, location)


def _is_error_name(value: Any) -> bool:
    return isinstance(value, str) and value.replace(".", "").replace("_", "").isalnum() and not value.startswith("States.")
