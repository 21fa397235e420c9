"""Stage 3, model: one workflow of a validated document as plain dataclasses, with each
step's operation resolved in its OpenAPI source and each node's location kept.

The model is built only from a document validation has accepted, so it checks nothing: every
rule is validation's (arazzo_sfn.validation). Each default is written once, here: the
dataclasses' own defaults, and the constants below for what the document leaves out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from arazzo_runtime.payload import DEFAULT_MAX_PAGES as PAYLOAD_DEFAULT_MAX_PAGES
from arazzo_runtime.select import selector_type
from arazzo_sfn.errors import Location, SemanticError
from arazzo_sfn.loader import LoadedDocument
from arazzo_sfn.openapi import Operation, index_operations, resolve_operation_path
from arazzo_sfn.unsupported import refuse_unsupported
from arazzo_sfn.validation.document import document_version, pointer

Locate = Callable[[str], Location]

# A criterion without `type` (Criterion Object).
DEFAULT_CRITERION_TYPE = "simple"
# A retry action without `retryLimit` retries once (Failure Action Object).
DEFAULT_RETRY_LIMIT = 1
# A backward goto without x-loop, and an x-loop without these fields.
DEFAULT_LOOP_WAIT_SECONDS = 30
DEFAULT_LOOP_ERROR = "LoopLimitExceeded"
# An x-pages without maxPages: the payload contract's default, so both sides agree.
DEFAULT_MAX_PAGES = PAYLOAD_DEFAULT_MAX_PAGES
# An x-for-each without `error`.
DEFAULT_FOR_EACH_ERROR = "ForEachFailed"


@dataclass(frozen=True)
class Criterion:
    condition: str
    type: str  # simple | regex | jsonpath | xpath; jsonpointer in Arazzo 1.1
    context: str | None
    location: Location
    version: str | None = None
    # The Arazzo version whose reading the criterion gets: the document's ("1.0" or "1.1").
    arazzo: str = "1.0"
    type_location: Location | None = None
    condition_location: Location | None = None


@dataclass(frozen=True)
class Selector:
    """An Arazzo 1.1 Selector Object: `selector`, of `type` (jsonpath | jsonpointer | xpath)
    and `version` (None: the type's default), applied to the value of the runtime expression
    `context`. Where 1.1 allows one (outputs, parameter values, payload members, replacement
    values), the model holds this in place of the object."""

    context: str
    selector: str
    type: str
    version: str | None
    location: Location


# An output's value: a runtime expression, or (Arazzo 1.1) a Selector Object.
OutputValue = str | Selector


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

    location: Location
    wait_seconds: Any = DEFAULT_LOOP_WAIT_SECONDS  # int or runtime expression text
    max_iterations: Any = None  # int, runtime expression text, or None (the history budget)
    error: str = DEFAULT_LOOP_ERROR
    cause: dict[str, Any] = field(default_factory=dict)
    fallback_wait_seconds: int | None = None
    mode: str = "choice"  # choice | retry
    interval_seconds: int = 5
    backoff_rate: float = 1.1
    max_delay_seconds: int | None = 300
    on_limit: str = "fail"  # fail (the x-loop error) | end (the workflow ends, with its outputs)


@dataclass(frozen=True)
class PagesSpec:
    """`x-pages` on a step that performs an operation: its function follows every page and
    the step sees one response whose array at `items` holds every page's items. By offset
    (`offset`, `limit`: query parameter names) or by link (`next`: a JSON Pointer to the
    next page's URL); `select` keeps only these members of each item."""

    items: str
    location: Location
    offset: str | None = None
    limit: str | None = None
    next: str | None = None
    select: tuple[str, ...] = ()
    max_pages: int = DEFAULT_MAX_PAGES


@dataclass(frozen=True)
class ForEachSpec:
    """`x-for-each` on a workflowId step: the called workflow runs once per item of `items`,
    each item (or the part `pointer` names) given as its input `input`."""

    items: str  # runtime expression text
    input: str
    location: Location
    pointer: str | None = None
    max_concurrency: Any = 0  # int (0: Step Functions' own bound) or runtime expression text
    tolerated_failures: Any = 0  # int or runtime expression text
    skip_on: tuple[str, ...] = ()
    error: str = DEFAULT_FOR_EACH_ERROR


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
    retry_limit: int | None = None  # a retry action's; DEFAULT_RETRY_LIMIT when it gives none


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str | None  # path | query | header | cookie | None (workflow inputs)
    value: Any  # as written, each Selector Object in it a Selector
    location: Location


@dataclass(frozen=True)
class RequestBody:
    content_type: str | None
    payload: Any  # as written, each Selector Object in it a Selector
    replacements: tuple[dict[str, Any], ...]  # as written, a Selector Object `value` a Selector
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
    outputs: dict[str, OutputValue]
    location: Location
    field_locations: dict[str, Location] = field(default_factory=dict)  # key -> where its value is
    retry: tuple[RetryPolicy, ...] | None = None  # the step's own x-task-retry, replacing the workflow's
    pages: PagesSpec | None = None  # x-pages: the step lists every page
    for_each: ForEachSpec | None = None  # x-for-each: the called workflow runs once per item


@dataclass(frozen=True)
class RetryPolicy:
    """`x-task-retry`: a Step Functions Retrier for every step's task."""

    errors: tuple[str, ...]
    location: Location
    interval_seconds: int = 1
    backoff_rate: float = 2.0
    max_attempts: int = 3
    max_delay_seconds: int | None = None
    jitter: str | None = None  # FULL | NONE | None (Step Functions' own: NONE)


@dataclass(frozen=True)
class SourceDescription:
    """A Source Description Object as `$sourceDescriptions.<name>.<reference>` reads it (1.1,
    "Source Description Expression Resolution"): the ids its document defines (operationIds of
    an OpenAPI description, workflowIds of an Arazzo document), matched first, then its own
    fields (`name`, `url`, `type`, x- extensions) as the document writes them."""

    name: str
    type: str
    fields: dict[str, Any]
    ids: frozenset[str]


@dataclass(frozen=True)
class Workflow:
    workflow_id: str
    summary: str | None
    source_file: str
    inputs: dict[str, Any]
    steps: tuple[Step, ...]
    outputs: dict[str, OutputValue]
    retry: tuple[RetryPolicy, ...]
    location: Location
    depends_on: tuple[str, ...] = ()
    depends_on_locations: tuple[Location, ...] = ()  # where each dependsOn entry is
    document_workflows: frozenset[str] = frozenset()  # the workflowIds of its own document
    success_actions: tuple[Action, ...] = ()
    failure_actions: tuple[Action, ...] = ()
    field_locations: dict[str, Location] = field(default_factory=dict)  # key -> where its value is
    # `x-child-execution: true`: a step that calls this workflow starts it as a child execution
    # of its own state machine, instead of inlining its states.
    child_execution: bool = False
    # The Arazzo version of its document ("1.0" or "1.1"): 1.1 reads runtime expressions by
    # its own grammar and writes an embedded value by its type.
    version: str = "1.0"
    # 1.1: the document's `$self`, resolved against the document's file URI (None without one).
    self_uri: str | None = None
    sources: dict[str, SourceDescription] = field(default_factory=dict)

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
        self.arazzo = document_version(self.data) or "1.0"  # whose reading the criteria get
        self.selectors = self.arazzo == "1.1"  # only 1.1 has Selector Objects

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
        refuse_unsupported(self.document, index)  # Arazzo 1.1 constructs not lowered yet
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
            outputs=self.outputs(raw.get("outputs") or {}, f"{base}/outputs"),
            retry=tuple(_retry(r, locate(f"{base}/x-task-retry/{i}")) for i, r in enumerate(raw.get("x-task-retry") or [])),
            location=locate(base),
            depends_on=tuple(raw.get("dependsOn") or ()),
            depends_on_locations=tuple(locate(f"{base}/dependsOn/{i}") for i, _ in enumerate(raw.get("dependsOn") or ())),
            document_workflows=frozenset(str(w.get("workflowId")) for w in workflows),
            success_actions=tuple(self.action(a, f"{base}/successActions/{i}", "successActions") for i, a in enumerate(raw.get("successActions") or [])),
            failure_actions=tuple(self.action(a, f"{base}/failureActions/{i}", "failureActions") for i, a in enumerate(raw.get("failureActions") or [])),
            field_locations={key: locate(f"{base}/{key}") for key in raw},
            **({"child_execution": raw["x-child-execution"]} if "x-child-execution" in raw else {}),
            version=document_version(self.data) or "1.0",
            self_uri=self.document.self_uri,
            sources=self.source_descriptions(),
        )

    def source_descriptions(self) -> dict[str, SourceDescription]:
        found: dict[str, SourceDescription] = {}
        for raw in self.data.get("sourceDescriptions") or []:
            kind = raw.get("type", "openapi")
            if kind == "arazzo" and raw["name"] in self.document.documents:
                ids = frozenset(str(w.get("workflowId")) for w in self.document.documents[raw["name"]].arazzo.data.get("workflows") or [])
            else:
                ids = frozenset(self.operations.get(raw["name"], {}))
            found[raw["name"]] = SourceDescription(raw["name"], kind, dict(raw), ids)
        return found

    def inputs_schema(self, schema: dict[str, Any], where: str) -> dict[str, Any]:
        """Inline `$ref: '#/components/inputs/<name>'`, for the schema and its properties."""
        schema = self._input_ref(schema, where)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            schema = {**schema, "properties": {name: self._input_ref(prop, f"{where}/properties/{name}") for name, prop in properties.items()}}
        return schema

    def _input_ref(self, schema: Any, where: str) -> Any:
        prefix = "#/components/inputs/"
        if not isinstance(schema, dict) or not str(schema.get("$ref", "")).startswith(prefix):
            return schema  # a schema, or a $ref JSON Schema itself resolves
        return self.components["inputs"][schema["$ref"][len(prefix):]]

    def step(self, raw: dict[str, Any], index: int, where: str) -> Step:
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
            request_body=self.request_body(body, f"{where}/requestBody") if body else None,
            success_criteria=tuple(_criterion(c, f"{where}/successCriteria/{i}", locate, self.arazzo) for i, c in enumerate(raw.get("successCriteria") or [])),
            on_success=self.actions(raw, "onSuccess", where, "successActions"),
            on_failure=self.actions(raw, "onFailure", where, "failureActions"),
            outputs=self.outputs(raw.get("outputs") or {}, f"{where}/outputs"),
            location=locate(where),
            field_locations={key: locate(f"{where}/{key}") for key in raw},
            retry=tuple(_retry(r, locate(f"{where}/x-task-retry/{i}")) for i, r in enumerate(raw["x-task-retry"] or [])) if "x-task-retry" in raw else None,
            pages=_pages(raw["x-pages"], locate(f"{where}/x-pages")) if "x-pages" in raw else None,
            for_each=_for_each(raw["x-for-each"], locate(f"{where}/x-for-each")) if "x-for-each" in raw else None,
        )

    def actions(self, raw: dict[str, Any], kind: str, where: str, component_kind: str) -> tuple[Action, ...] | None:
        if kind not in raw:
            return None
        return tuple(self.action(a, f"{where}/{kind}/{i}", component_kind) for i, a in enumerate(raw[kind] or []))

    def action(self, raw: dict[str, Any], where: str, component_kind: str) -> Action:
        if "reference" in raw:
            name = raw["reference"].removeprefix(f"$components.{component_kind}.")
            return self.action(self.components[component_kind][name], f"/components/{component_kind}/{name}", component_kind)
        return _action(raw, where, self.locate, self.arazzo)

    def parameter(self, raw: dict[str, Any], where: str) -> Parameter:
        location = self.locate(where)
        if "reference" in raw:
            name = raw["reference"].removeprefix("$components.parameters.")
            target = self.components["parameters"][name]
            # A reference may set the value; the component gives name and location.
            if "value" in raw:
                value = self.value(raw["value"], f"{where}/value")
            else:
                value = self.value(target.get("value"), f"/components/parameters/{name}/value")
            return Parameter(target["name"], target.get("in"), value, location)
        return Parameter(raw["name"], raw.get("in"), self.value(raw.get("value"), f"{where}/value"), location)

    def request_body(self, body: dict[str, Any], where: str) -> RequestBody:
        replacements = tuple(
            {**r, "value": self.value(r.get("value"), f"{where}/replacements/{i}/value")} if "value" in r else r
            for i, r in enumerate(body.get("replacements") or ())
        )
        return RequestBody(body.get("contentType"), self.value(body.get("payload"), f"{where}/payload"), replacements, self.locate(where))

    def outputs(self, raw: dict[str, Any], where: str) -> dict[str, OutputValue]:
        return {name: self.value(value, f"{where}/{name}") for name, value in raw.items()}

    def value(self, value: Any, where: str) -> Any:
        """A value as written, each Selector Object in it (Arazzo 1.1: an object with a
        `context` and a `selector`, however deep) a `Selector`."""
        if not self.selectors:
            return value
        if isinstance(value, dict) and "context" in value and "selector" in value:
            kind, version = selector_type(value["type"])
            return Selector(value["context"], value["selector"], kind, version, self.locate(where))
        if isinstance(value, dict):
            return {key: self.value(item, pointer(where, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item, f"{where}/{index}") for index, item in enumerate(value)]
        return value




def _with_workflow_parameters(step: Step, shared: tuple[Parameter, ...]) -> Step:
    """Arazzo 1.0.1: a workflow's parameters apply to each of its steps; a step's own parameter
    of the same name and `in` wins. A step that calls a workflow takes them as inputs (by name).
    A path parameter goes only to the steps whose path has it."""
    if not shared:
        return step
    if step.target_kind == "workflowId":
        own_names = {p.name for p in step.parameters}
        inherited = [replace(p, where=None) for p in shared if p.name not in own_names]
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


def _action(raw: dict[str, Any], where: str, locate: Locate, arazzo: str) -> Action:
    fail = raw.get("x-fail")
    loop = raw.get("x-loop")
    retry_limit = raw.get("retryLimit")
    if raw["type"] == "retry" and retry_limit is None:
        retry_limit = DEFAULT_RETRY_LIMIT
    return Action(
        name=raw["name"],
        type=raw["type"],
        step_id=raw.get("stepId"),
        workflow_id=raw.get("workflowId"),
        criteria=tuple(_criterion(c, f"{where}/criteria/{i}", locate, arazzo) for i, c in enumerate(raw.get("criteria") or [])),
        location=locate(where),
        fail=FailSpec(fail["error"], fail.get("cause") or {}, locate(f"{where}/x-fail")) if fail is not None else None,
        loop=_loop(loop, locate(f"{where}/x-loop")) if loop is not None else None,
        retry_after=raw.get("retryAfter"),
        retry_limit=retry_limit,
    )


def _criterion(raw: dict[str, Any], where: str, locate: Locate, arazzo: str) -> Criterion:
    kind, version = selector_type(raw.get("type", DEFAULT_CRITERION_TYPE))  # a string, or an Expression Type Object
    return Criterion(
        raw["condition"], kind, raw.get("context"), locate(where), version,
        arazzo=arazzo, type_location=locate(f"{where}/type") if "type" in raw else None, condition_location=locate(f"{where}/condition"),
    )


# The x-loop fields, by the LoopSpec field each sets.
_LOOP_FIELDS = {
    "waitSeconds": "wait_seconds",
    "maxIterations": "max_iterations",
    "error": "error",
    "fallbackWaitSeconds": "fallback_wait_seconds",
    "mode": "mode",
    "intervalSeconds": "interval_seconds",
    "backoffRate": "backoff_rate",
    "maxDelaySeconds": "max_delay_seconds",
    "onLimit": "on_limit",
}


LOOP_FIELDS = set(_LOOP_FIELDS) | {"cause"}


def _loop(raw: dict[str, Any], location: Location) -> LoopSpec:
    """The x-loop as written; what it leaves out takes LoopSpec's defaults."""
    given = {field: raw[key] for key, field in _LOOP_FIELDS.items() if key in raw}
    if "backoff_rate" in given:
        given["backoff_rate"] = float(given["backoff_rate"])
    return LoopSpec(location=location, cause=raw.get("cause") or {}, **given)


# The x-task-retry fields, by the RetryPolicy field each sets.
_RETRY_FIELDS = {
    "intervalSeconds": "interval_seconds",
    "backoffRate": "backoff_rate",
    "maxAttempts": "max_attempts",
    "maxDelaySeconds": "max_delay_seconds",
    "jitterStrategy": "jitter",
}


def _retry(raw: dict[str, Any], location: Location) -> RetryPolicy:
    """One x-task-retry entry as written; what it leaves out takes RetryPolicy's defaults."""
    given = {field: raw[key] for key, field in _RETRY_FIELDS.items() if key in raw}
    if "backoff_rate" in given:
        given["backoff_rate"] = float(given["backoff_rate"])
    return RetryPolicy(errors=tuple(raw["errors"]), location=location, **given)


def _pages(raw: dict[str, Any], location: Location) -> PagesSpec:
    """The x-pages as written; what it leaves out takes PagesSpec's defaults."""
    given = {field: raw[key] for key, field in (("offset", "offset"), ("limit", "limit"), ("next", "next"), ("maxPages", "max_pages")) if key in raw}
    return PagesSpec(items=raw["items"], location=location, select=tuple(raw.get("select") or ()), **given)


# The x-for-each fields, by the ForEachSpec field each sets.
_FOR_EACH_FIELDS = {
    "pointer": "pointer",
    "maxConcurrency": "max_concurrency",
    "toleratedFailures": "tolerated_failures",
    "error": "error",
}


def _for_each(raw: dict[str, Any], location: Location) -> ForEachSpec:
    """The x-for-each as written; what it leaves out takes ForEachSpec's defaults."""
    given = {field: raw[key] for key, field in _FOR_EACH_FIELDS.items() if key in raw}
    return ForEachSpec(items=raw["items"], input=raw["input"], location=location, skip_on=tuple(raw.get("skipOn") or ()), **given)
