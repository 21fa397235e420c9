"""The step payload: what a compiled Task sends its function, and what the function answers.

This module is the contract between the compiler and the step functions. The compiler
writes each Task's `Payload` through `PayloadTemplate`; every function reads its Lambda
event through `parse_payload`, once, into a `StepPayload`, and answers a `StepAnswer`
(built by `arazzo_runtime.step`). docs/contract.md describes every field.

The payload carries its version, `payloadVersion` (`PAYLOAD_VERSION`). A state machine
and its functions are deployed together, from one build, so a function reads exactly its
own version and refuses any other with `PayloadVersionMismatch`: a payload of another
version comes from a state machine of another deployment, and guessing what it means
would do the wrong thing quietly. The version goes up with every change a function of
the other build could misread: a field removed or renamed, or its meaning or shape
changed, or a field added that changes what a payload without it means. A field written
only when a document asks for it (`pages`) keeps the version: a function of an earlier
build refuses it by name, as every field it does not know. The answer has no version of its own: it is read by the state machine that sent
the payload, so it changes with the payload's version.

A malformed payload (a field missing, of the wrong type, or not a field of this version)
is refused with `InvalidRequest` naming the field, before the function sends anything.

A payload is of one of two kinds (`kind`). An `operation` payload (the default) asks a
function to perform a step's request and judge its answer. A `criteria` payload
(`CriteriaPayload`, read by `parse_criteria_payload`) asks it only to judge criteria on
values the state machine sends, answered as a `CriteriaAnswer`: the criteria of a step
that runs a workflow as a child execution, which no request of its own answers, and which
Choice rules cannot judge (strings compare ignoring case in Arazzo, exactly in ASL).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NotRequired, Required, TypedDict, TypeGuard, cast

from arazzo_runtime.errors import InvalidRequest, PayloadVersionMismatch
from arazzo_runtime.expressions import ExpressionSyntaxError, parse_expression, parse_pointer

PAYLOAD_VERSION = 1
VERSION_FIELD = "payloadVersion"
KIND_FIELD = "kind"
OPERATION_KIND = "operation"  # the default: perform the step's request
CRITERIA_KIND = "criteria"  # judge criteria on the values sent, nothing more

# A payload without a version comes from a state machine compiled before the payload carried
# one: refused like any other version, since it cannot be told which it is.
ACCEPT_UNVERSIONED_PAYLOADS = False

# The forms of runtime expression a function resolves from the answer it received and the
# request it sent, for `keep.outputs` and `keep.reads` (see `arazzo_runtime.step.resolve`).
RESPONSE_EXPRESSION_KINDS = frozenset({"status_code", "response_body", "response_header"})
REQUEST_EXPRESSION_KINDS = frozenset({"url", "method", "request"})
ANSWER_EXPRESSION_KINDS = RESPONSE_EXPRESSION_KINDS | REQUEST_EXPRESSION_KINDS

# What every function answers; the Task's ResultSelector keeps these in $.steps.<step>.
ANSWER_FIELDS = ("statusCode", "headers", "body", "retryAfterSeconds", "criteria")
# What a function answers to `keep`: the step's outputs and the other values read of its answer.
KEPT_FIELDS = ("outputs", "reads")

# Where Step Functions' context object gives the execution's ids and the Task's retry count.
EXECUTION_ID_PATH = "$$.Execution.Id"
RETRY_COUNT_PATH = "$$.State.RetryCount"
EXECUTION_START_TIME_PATH = "$$.Execution.StartTime"


# ----------------------------------------------------------------------- JSON shapes


class Criterion(TypedDict):
    """A criterion a function evaluates on the answer (arazzo_runtime.evaluate): the
    Arazzo Criterion Object, its `type` `simple` when the document gives none."""

    type: str
    condition: str
    context: str | None
    version: NotRequired[str]
    # "1.1": read as Arazzo 1.1 reads a criterion (arazzo_runtime.criteria_1_1); absent: 1.0.
    arazzo: NotRequired[str]


class ExpressionValue(TypedDict):
    """A value a criterion reads besides the answer (an input, an earlier step's output):
    the expression as the criterion writes it, and its value; no `value` when it has none."""

    expression: str
    value: NotRequired[Any]


class WaitRead(TypedDict):
    """A wait in whole seconds read from the answer (`Retry-After` as HTTP says: seconds or
    a date), `fallback` when it does not resolve to one."""

    seconds: str
    fallback: int


class SelectionRead(TypedDict):
    """An Arazzo 1.1 Selector Object the function resolves (`arazzo_runtime.select`): the
    selector applied to the value of `context`, a runtime expression about the answer or one
    listed in `values`; then, when given, `pointer` followed into what it selected."""

    context: str
    selector: str
    type: str  # jsonpath | jsonpointer
    version: str
    pointer: NotRequired[str]


# A value read of the answer: a runtime expression about it, a wait, or a selection.
Read = str | WaitRead | SelectionRead


class LoopCounter(TypedDict):
    """A loop's passes: since the loop was last entered (`iterations`, bounded by its
    maxIterations) and in the whole execution (`total`, bounded by the history's budget)."""

    iterations: int
    total: int


class Replacement(TypedDict):
    """A value put into the body at run time, at `target`: a JSON Pointer, or with
    `targetType: jsonpath` a JSONPath query, the value put at every node it selects."""

    target: str
    value: Any
    targetType: NotRequired[str]  # jsonpointer (the default) | jsonpath
    targetVersion: NotRequired[str]  # the JSONPath version: rfc9535 (the default) | draft-goessner-dispatch-jsonpath-00


class RequestSelection(TypedDict):
    """An Arazzo 1.1 Selector Object in the request, resolved by the function before anything
    else (`parse_payload`): the selector applied to `value` (the context's value, given by
    Step Functions), what it yields put at `at`, a JSON Pointer into the request (null when
    it yields nothing)."""

    at: str
    value: Any
    selector: str
    type: str  # jsonpath | jsonpointer
    version: str


class OperationRequest(TypedDict, total=False):
    """The HTTP request of the step's operation, its runtime expressions resolved by Step
    Functions. Its values are checked by `arazzo_runtime.http.build_request`, before
    anything is sent; its shape here."""

    method: Required[str]
    path: Required[str]  # the path template, e.g. /jobs/{jobId}
    pathParameters: dict[str, Any]
    query: dict[str, Any]
    queryString: str  # Arazzo 1.1 `in: querystring`: the whole query string, already formatted
    headers: dict[str, Any]
    cookies: dict[str, Any]
    contentType: str
    body: Any  # no member: no body is sent
    replacements: list[Replacement]
    omitNull: list[str]  # JSON Pointers of members left out when null
    selections: list[RequestSelection]  # resolved by parse_payload: a parsed request has none


class CriteriaAnswer(TypedDict):
    """What a function returns to a criteria payload."""

    criteria: dict[str, bool]  # criterion id -> whether it holds


class StepAnswer(TypedDict, total=False):
    """What a function returns to the state machine."""

    statusCode: Required[int]
    headers: Required[dict[str, str]]  # lower-case names
    body: Required[Any]
    retryAfterSeconds: Required[int | None]
    criteria: Required[dict[str, bool]]  # criterion id -> whether it holds
    outputs: dict[str, Any]  # with `keep`: each output, null when it does not resolve
    reads: dict[str, Any]  # with `keep`: each read, null when it does not resolve
    loops: dict[str, LoopCounter]  # with `loops` or `loopAgain`: the counters after this pass


# ----------------------------------------------------------------------- the payload


@dataclass(frozen=True)
class Keep:
    """What the workflow reads of the answer, so that the function keeps only that in the
    state data: members of the body (JSON Pointers, "" for all of it), headers, the step's
    outputs, other values read later, and the success criteria (a failed step keeps its
    whole body)."""

    body: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    outputs: Mapping[str, Read] = field(default_factory=dict)
    reads: Mapping[str, Read] = field(default_factory=dict)
    success: tuple[Criterion, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """As the payload writes it: the parts that are empty left out, but `success`."""
        parts: dict[str, Any] = {"body": list(self.body), "headers": list(self.headers), "outputs": dict(self.outputs), "reads": dict(self.reads)}
        written = {name: value for name, value in parts.items() if value}
        written["success"] = list(self.success)
        return written


@dataclass(frozen=True)
class RetryLoop:
    """A poll loop written as the Task's own Retry (`loopAgain`): the function raises
    `LoopAgain` while every criterion of `holds` holds, no group of `unless` holds whole, and
    the loop's count (the Task's retry count) is below `max_iterations` and `budget`."""

    key: str  # the loop's counter, answered under `loops`
    holds: tuple[str, ...]  # criterion ids (JSON: `while`)
    unless: tuple[tuple[str, ...], ...]  # groups of criterion ids: the earlier actions' criteria
    budget: int | None  # what the execution history's budget allows
    max_iterations: int | None = None


# A step with `x-pages` that does not bound its pages follows at most this many.
DEFAULT_MAX_PAGES = 100


@dataclass(frozen=True)
class Pages:
    """`x-pages`: the function follows every page of the listing and answers one response
    whose array at `items` holds every page's items (`arazzo_runtime.pages`). Paged by
    offset (`offset`, the query parameter that takes it, and `limit`, the one that carries
    the page size) or by link (`next`, a JSON Pointer to the next page's URL in the body);
    `select` keeps only these members of each item; more than `max_pages` pages fails the
    step (`PageLimitExceeded`)."""

    items: str  # a JSON Pointer to the item array in each page's body
    offset: str | None = None
    limit: str | None = None
    next: str | None = None
    select: tuple[str, ...] = ()
    max_pages: int = DEFAULT_MAX_PAGES

    def to_json(self) -> dict[str, Any]:
        """As the payload writes it: the parts not given left out, `items` and `maxPages` always."""
        parts: dict[str, Any] = {"offset": self.offset, "limit": self.limit, "next": self.next, "select": list(self.select)}
        return {"items": self.items, **{name: value for name, value in parts.items() if value}, "maxPages": self.max_pages}


@dataclass(frozen=True)
class StepPayload:
    """A step payload, read and checked by `parse_payload`."""

    version: int
    step: str
    operation_id: str | None
    source: str  # the source description's name: which server
    request: OperationRequest
    execution_id: str | None = None
    attempt: int = 0  # the Task's retry count: 0 on the first attempt
    execution_start_time: datetime | None = None
    evaluate: Mapping[str, Criterion] = field(default_factory=dict)  # criterion id -> criterion
    values: Mapping[str, ExpressionValue] = field(default_factory=dict)
    keep: Keep | None = None
    loops: Mapping[str, LoopCounter] | None = None  # the counters of the loops this step is in
    retry_loop: RetryLoop | None = None
    pages: Pages | None = None  # the step lists every page (x-pages)


def parse_payload(event: Any) -> StepPayload:
    """The step payload of a Lambda event. `PayloadVersionMismatch` when it is of another
    version (or of none, unless `ACCEPT_UNVERSIONED_PAYLOADS`); `InvalidRequest`, naming the
    field, when it is malformed."""
    step, version, read = _read_head(event, "the payload", PAYLOAD_FIELDS)
    if event.get(KIND_FIELD, OPERATION_KIND) != OPERATION_KIND:
        raise read.refuse(KIND_FIELD, f"must be {OPERATION_KIND!r} for a step payload, not {_described(event.get(KIND_FIELD))} (a criteria payload is read by parse_criteria_payload)")
    evaluate = read.criteria("evaluate", event.get("evaluate"))
    values = read.values(event.get("values"))
    return StepPayload(
        version=version,
        step=step,
        operation_id=read.optional_string("operationId", event.get("operationId")),
        source=read.string("source", event.get("source")),
        request=read.request(event.get("request")),
        execution_id=read.optional_string("executionId", event.get("executionId")),
        attempt=read.count("attempt", event.get("attempt", 0)),
        execution_start_time=read.time("executionStartTime", event.get("executionStartTime")),
        evaluate=evaluate,
        values=values,
        keep=None if event.get("keep") is None else read.keep(event["keep"], {entry["expression"] for entry in values.values()}),
        loops=None if event.get("loops") is None else read.loops(event["loops"]),
        retry_loop=None if event.get("loopAgain") is None else read.retry_loop(event["loopAgain"], set(evaluate)),
        pages=None if event.get("pages") is None else read.pages(event["pages"]),
    )


@dataclass(frozen=True)
class CriteriaPayload:
    """A criteria payload, read and checked by `parse_criteria_payload`: the criteria to judge
    (at least one) and the values they read."""

    version: int
    step: str
    evaluate: Mapping[str, Criterion]
    values: Mapping[str, ExpressionValue] = field(default_factory=dict)


def is_criteria_payload(event: Any) -> bool:
    """Whether a Lambda event says it is a criteria payload (`kind: criteria`)."""
    return isinstance(event, Mapping) and event.get(KIND_FIELD) == CRITERIA_KIND


def _read_head(event: Any, what: str, fields: frozenset[str]) -> tuple[str, int, _Reader]:
    """What every payload starts with: an object, its version, its step, no unknown field."""
    if not isinstance(event, Mapping):
        raise InvalidRequest(f"the event must be a JSON object, not {json_type(event)}")
    step = event.get("step")
    named = f"{step}: " if isinstance(step, str) and step else ""
    version = _version(event, named)
    if not isinstance(step, str) or not step:
        raise InvalidRequest(f"step must be a non-empty string, not {_described(step)}")
    read = _Reader(step)
    read.known_fields(what, event, fields)
    return step, version, read


def parse_criteria_payload(event: Any) -> CriteriaPayload:
    """The criteria payload of a Lambda event; refused as `parse_payload` refuses a step payload."""
    step, version, read = _read_head(event, "the criteria payload", CRITERIA_PAYLOAD_FIELDS)
    if event.get(KIND_FIELD) != CRITERIA_KIND:
        raise read.refuse(KIND_FIELD, f"must be {CRITERIA_KIND!r} for a criteria payload, not {_described(event.get(KIND_FIELD))}")
    evaluate = read.criteria("evaluate", event.get("evaluate"))
    if not evaluate:
        raise read.refuse("evaluate", "must hold at least one criterion: a criteria payload has nothing else to do")
    return CriteriaPayload(version=version, step=step, evaluate=evaluate, values=read.values(event.get("values")))


def json_type(value: Any) -> str:
    """What a JSON value is, for messages: `null`, `a string`, `an object`..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# The fields of each object of the payload, in this version: any other is refused.
PAYLOAD_FIELDS = frozenset({
    VERSION_FIELD, KIND_FIELD, "step", "operationId", "source", "request", "executionId", "attempt", "executionStartTime",
    "evaluate", "values", "keep", "loops", "loopAgain", "pages",
})
CRITERIA_PAYLOAD_FIELDS = frozenset({VERSION_FIELD, KIND_FIELD, "step", "evaluate", "values"})
REQUEST_FIELDS = frozenset(OperationRequest.__annotations__)
KEEP_FIELDS = frozenset({"body", "headers", "outputs", "reads", "success"})
CRITERION_FIELDS = frozenset({"type", "condition", "context", "version", "arazzo"})
LOOP_AGAIN_FIELDS = frozenset({"key", "while", "unless", "budget", "maxIterations"})
VALUE_FIELDS = frozenset({"expression", "value"})
REPLACEMENT_FIELDS = frozenset(Replacement.__annotations__)
SELECTION_FIELDS = frozenset(RequestSelection.__annotations__)
SELECTION_READ_FIELDS = frozenset(SelectionRead.__annotations__)
PAGES_FIELDS = frozenset({"items", "offset", "limit", "next", "select", "maxPages"})


def _version(event: Mapping[str, Any], named: str) -> int:
    version = event.get(VERSION_FIELD)
    if version is None and VERSION_FIELD not in event and ACCEPT_UNVERSIONED_PAYLOADS:
        return PAYLOAD_VERSION
    if version is None:
        raise PayloadVersionMismatch(
            f"{named}the state machine sends no payload version, these functions read version {PAYLOAD_VERSION}: deploy both from the same build"
        )
    if not _is_count(version):
        raise InvalidRequest(f"{named}{VERSION_FIELD} must be a non-negative integer, not {json_type(version)}")
    if version != PAYLOAD_VERSION:
        raise PayloadVersionMismatch(
            f"{named}the state machine sends payload version {version}, these functions read version {PAYLOAD_VERSION}: deploy both from the same build"
        )
    return version


class _Reader:
    """Reads the parts of one step's payload; each refusal names the step and the field."""

    def __init__(self, step: str):
        self.step = step

    def refuse(self, where: str, problem: str) -> InvalidRequest:
        return InvalidRequest(f"{self.step}: {where} {problem}")

    def known_fields(self, where: str, value: Mapping[str, Any], known: frozenset[str]) -> None:
        unknown = sorted(str(name) for name in value if name not in known)
        if unknown:
            raise InvalidRequest(f"{self.step}: {where} has a field payload version {PAYLOAD_VERSION} does not know: {unknown[0]}")

    def object(self, where: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.refuse(where, f"must be a JSON object, not {json_type(value)}")
        return value

    def string(self, where: str, value: Any, *, or_null: bool = False) -> str:
        if not isinstance(value, str) or not value:
            expected = "a non-empty string or null" if or_null else "a non-empty string"
            raise self.refuse(where, f"must be {expected}, not {_described(value)}")
        return value

    def optional_string(self, where: str, value: Any) -> str | None:
        return None if value is None else self.string(where, value, or_null=True)

    def strings(self, where: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.refuse(where, "must be a list of strings")
        return tuple(value)

    def count(self, where: str, value: Any) -> int:
        if not _is_count(value):
            shown = repr(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else json_type(value)
            raise self.refuse(where, f"must be a non-negative integer, not {shown}")
        return value

    def time(self, where: str, value: Any) -> datetime | None:
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            raise self.refuse(where, f"must be an ISO 8601 time, not {json_type(value)}")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def request(self, value: Any) -> OperationRequest:
        request = self.object("request", value)
        self.known_fields("request", request, REQUEST_FIELDS)
        self.string("request.method", request.get("method"))
        self.string("request.path", request.get("path"))
        for group in ("pathParameters", "query", "headers", "cookies"):
            if group in request:
                self.object(f"request.{group}", request[group])
        if "contentType" in request:
            self.string("request.contentType", request["contentType"])
        replacements = request.get("replacements", [])
        if not isinstance(replacements, list):
            raise self.refuse("request.replacements", f"must be a list of {{target, value}}, not {json_type(replacements)}")
        for index, replacement in enumerate(replacements):
            self.replacement(f"request.replacements.{index}", replacement)
        if "omitNull" in request:
            self.strings("request.omitNull", request["omitNull"])
        if "selections" in request:
            request = self.selected(request)
        # Its shape is the TypedDict's, checked above; its values are http's to check.
        return cast(OperationRequest, request)

    def replacement(self, where: str, value: Any) -> None:
        entry = self.object(where, value)
        if not {"target", "value"} <= set(entry) <= REPLACEMENT_FIELDS or not isinstance(entry["target"], str):
            raise self.refuse(where, "must be {target, value}, the target a JSON Pointer (or, with targetType jsonpath and a targetVersion, a JSONPath query)")
        kind = entry.get("targetType", "jsonpointer")
        if kind not in ("jsonpointer", "jsonpath") or ("targetVersion" in entry and kind != "jsonpath"):
            raise self.refuse(f"{where}.targetType", f"must be jsonpointer or jsonpath (targetVersion only with jsonpath), not {_described(kind)}")
        if kind == "jsonpath":
            self.selector(where, entry["target"], kind, entry.get("targetVersion"), "target")

    def selector(self, where: str, text: Any, kind: Any, version: Any, name: str = "selector") -> None:
        """Refuse a selector that does not compile, naming the field."""
        from arazzo_runtime.select import SelectorError, compile_selector  # here: select imports evaluate, which imports this module

        try:
            compile_selector(text, kind, version)
        except SelectorError as error:
            raise self.refuse(f"{where}.{name}:", str(error)) from None

    def selected(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The request with its `selections` resolved (`arazzo_runtime.select.apply_selections`)."""
        from arazzo_runtime.select import SelectorError, apply_selections  # here: select imports evaluate, which imports this module

        selections = request["selections"]
        if not isinstance(selections, list):
            raise self.refuse("request.selections", f"must be a list of {{at, value, selector, type, version}}, not {json_type(selections)}")
        for index, selection in enumerate(selections):
            where = f"request.selections.{index}"
            entry = self.object(where, selection)
            if set(entry) != SELECTION_FIELDS or not isinstance(entry["at"], str):
                raise self.refuse(where, "must be {at, value, selector, type, version}, `at` a JSON Pointer into the request")
            self.pointer(f"{where}.at", entry["at"])
            self.selector(where, entry["selector"], entry["type"], entry["version"])
        try:
            return apply_selections(request)
        except SelectorError as error:
            raise self.refuse("request.selections", str(error)) from None

    def criterion(self, where: str, value: Any) -> Criterion:
        entry = self.object(where, value)
        self.known_fields(where, entry, CRITERION_FIELDS)
        kind = entry.get("type")
        if kind is not None and not isinstance(kind, str):
            raise self.refuse(f"{where}.type", f"must be a string, not {json_type(kind)}")
        context = entry.get("context")
        if context is not None and not isinstance(context, str):
            raise self.refuse(f"{where}.context", f"must be a runtime expression string or null, not {json_type(context)}")
        criterion: Criterion = {"type": kind or "simple", "condition": self.string(f"{where}.condition", entry.get("condition")), "context": context}
        if entry.get("version") is not None:
            criterion["version"] = self.string(f"{where}.version", entry["version"])
        if entry.get("arazzo") is not None:
            criterion["arazzo"] = self.string(f"{where}.arazzo", entry["arazzo"])
        return criterion

    def criteria(self, where: str, value: Any) -> dict[str, Criterion]:
        if value is None:
            return {}
        return {str(cid): self.criterion(f"{where}.{cid}", entry) for cid, entry in self.object(where, value).items()}

    def values(self, value: Any) -> dict[str, ExpressionValue]:
        if value is None:
            return {}
        values: dict[str, ExpressionValue] = {}
        for vid, item in self.object("values", value).items():
            entry = self.object(f"values.{vid}", item)
            self.known_fields(f"values.{vid}", entry, VALUE_FIELDS)
            read: ExpressionValue = {"expression": self.string(f"values.{vid}.expression", entry.get("expression"))}
            if "value" in entry:
                read["value"] = entry["value"]
            values[str(vid)] = read
        return values

    def keep(self, value: Any, values: Collection[str] = ()) -> Keep:
        keep = self.object("keep", value)
        self.known_fields("keep", keep, KEEP_FIELDS)
        body = self.strings("keep.body", keep.get("body", []))
        for pointer in body:
            try:
                parse_pointer(pointer)
            except ExpressionSyntaxError as error:
                raise self.refuse("keep.body:", str(error)) from None
        success = keep.get("success", [])
        if not isinstance(success, list):
            raise self.refuse("keep.success", f"must be a list of criteria, not {json_type(success)}")
        return Keep(
            body=body,
            headers=self.strings("keep.headers", keep.get("headers", [])),
            outputs=self.reads("keep.outputs", keep.get("outputs", {}), values),
            reads=self.reads("keep.reads", keep.get("reads", {}), values),
            success=tuple(self.criterion(f"keep.success.{index}", item) for index, item in enumerate(success)),
        )

    def reads(self, where: str, value: Any, values: Collection[str]) -> dict[str, Read]:
        reads: dict[str, Read] = {}
        for name, entry in self.object(where, value).items():
            at = f"{where}.{name}"
            if isinstance(entry, str):
                self.answer_expression(at, entry)
                reads[str(name)] = entry
            elif isinstance(entry, Mapping) and set(entry) == {"seconds", "fallback"} and isinstance(entry["seconds"], str) and _is_count(entry["fallback"]):
                self.answer_expression(f"{at}.seconds", entry["seconds"])
                reads[str(name)] = {"seconds": entry["seconds"], "fallback": entry["fallback"]}
            elif isinstance(entry, Mapping) and "context" in entry:
                reads[str(name)] = self.selection_read(at, entry, values)
            else:
                raise self.refuse(at, "must be a runtime expression or {seconds, fallback} (an expression and a non-negative integer), or a selection {context, selector, type, version[, pointer]}")
        return reads

    def selection_read(self, where: str, entry: Mapping[str, Any], values: Collection[str]) -> SelectionRead:
        if not SELECTION_READ_FIELDS - {"pointer"} <= set(entry) <= SELECTION_READ_FIELDS:
            raise self.refuse(where, "must be {context, selector, type, version[, pointer]}")
        context = self.string(f"{where}.context", entry["context"])
        if context not in values:
            self.answer_expression(f"{where}.context", context)
        self.selector(where, entry["selector"], entry["type"], entry["version"])
        read: SelectionRead = {"context": context, "selector": entry["selector"], "type": entry["type"], "version": entry["version"]}
        if "pointer" in entry:
            read["pointer"] = self.pointer(f"{where}.pointer", entry["pointer"])
        return read

    def answer_expression(self, where: str, text: str) -> None:
        try:
            kind = parse_expression(text).kind
        except ExpressionSyntaxError as error:
            raise self.refuse(f"{where}:", str(error)) from None
        if kind not in ANSWER_EXPRESSION_KINDS:
            raise self.refuse(f"{where}:", f"{text!r} is not an expression about the response or the request ($statusCode, $response.body, $response.header, $url, $method, $request)")

    def loops(self, value: Any) -> dict[str, LoopCounter]:
        counters: dict[str, LoopCounter] = {}
        for key, counter in self.object("loops", value).items():
            if not isinstance(counter, Mapping) or set(counter) != {"iterations", "total"} or not all(_is_count(counter[part]) for part in ("iterations", "total")):
                raise self.refuse(f"loops.{key}", "must be {iterations, total}, two non-negative integers")
            counters[str(key)] = {"iterations": counter["iterations"], "total": counter["total"]}
        return counters

    def retry_loop(self, value: Any, evaluated: set[str]) -> RetryLoop:
        spec = self.object("loopAgain", value)
        self.known_fields("loopAgain", spec, LOOP_AGAIN_FIELDS)
        holds = self.strings("loopAgain.while", spec.get("while"))
        unless = spec.get("unless")
        if not isinstance(unless, list):
            raise self.refuse("loopAgain.unless", "must be a list of lists of criterion ids")
        groups = tuple(self.strings(f"loopAgain.unless.{index}", group) for index, group in enumerate(unless))
        for cid in holds + tuple(cid for group in groups for cid in group):
            if cid not in evaluated:
                raise self.refuse("loopAgain", f"names criterion {cid}, which is not in evaluate")
        bounds = {name: None if spec.get(name) is None else self.count(f"loopAgain.{name}", spec[name]) for name in ("budget", "maxIterations")}
        return RetryLoop(self.string("loopAgain.key", spec.get("key")), holds, groups, bounds["budget"], bounds["maxIterations"])


    def pages(self, value: Any) -> Pages:
        spec = self.object("pages", value)
        self.known_fields("pages", spec, PAGES_FIELDS)
        pointers = {name: self.pointer(f"pages.{name}", spec.get(name)) for name in ("items", "next") if name in spec or name == "items"}
        names = {name: self.string(f"pages.{name}", spec[name]) for name in ("offset", "limit") if name in spec}
        if ("next" in pointers) == ("offset" in names):
            raise self.refuse("pages", "must page by offset (offset, and limit) or by link (next), one of the two")
        if "limit" in names and "offset" not in names:
            raise self.refuse("pages.limit", "belongs with offset: it is the page size of offset paging")
        select = self.strings("pages.select", spec.get("select", []))
        for index, pointer in enumerate(select):
            self.pointer(f"pages.select.{index}", pointer)
        max_pages = self.count("pages.maxPages", spec.get("maxPages", DEFAULT_MAX_PAGES))
        if max_pages < 1:
            raise self.refuse("pages.maxPages", "must be at least 1")
        return Pages(pointers["items"], names.get("offset"), names.get("limit"), pointers.get("next"), select, max_pages)

    def pointer(self, where: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.refuse(where, f"must be a JSON Pointer string, not {json_type(value)}")
        try:
            parse_pointer(value)
        except ExpressionSyntaxError as error:
            raise self.refuse(f"{where}:", str(error)) from None
        return value


def _described(value: Any) -> str:
    return "an empty string" if value == "" else json_type(value)


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# ----------------------------------------------------------------------- the compiler's side


@dataclass(frozen=True)
class StatePath:
    """A value Step Functions gives when the Task runs: a JsonPath into the state's input
    (`$.inputs.jobId`) or its context object (`$$.Execution.Id`). Written as `<field>.$`."""

    path: str


@dataclass(frozen=True)
class ValueTemplate:
    """An `ExpressionValue` as the compiler writes it: the value from the state data."""

    expression: str
    value: StatePath


@dataclass(frozen=True)
class RetryLoopTemplate:
    """A `RetryLoop` as the compiler writes it: maxIterations may be an input's value."""

    key: str
    holds: tuple[str, ...]
    unless: tuple[tuple[str, ...], ...]
    budget: int
    max_iterations: int | StatePath | None = None

    def to_asl(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"key": self.key, "while": list(self.holds), "unless": [list(group) for group in self.unless], "budget": self.budget}
        if self.max_iterations is not None:
            spec.update(_asl_field("maxIterations", self.max_iterations))
        return spec


@dataclass(frozen=True)
class PayloadTemplate:
    """A Task's `Payload` Parameters, from the parts of a step. `request` is the request's
    template as the compiler writes it, its runtime expressions already `<field>.$` paths.
    `loops` is where the state data holds the counters of the loops the step is in (passed
    on and answered one higher); `retry_loop` a poll loop in the Task's own Retry; `pages`
    the step's `x-pages`, written as it is read."""

    step: str
    operation_id: str | None
    source: str
    request: Mapping[str, Any]
    evaluate: Mapping[str, Criterion] = field(default_factory=dict)
    values: Mapping[str, ValueTemplate] = field(default_factory=dict)
    keep: Keep | None = None
    loops: StatePath | None = None
    retry_loop: RetryLoopTemplate | None = None
    pages: Pages | None = None

    def to_asl(self) -> dict[str, Any]:
        """The Payload, its version first. Raises ValueError for a request template with a
        field the payload does not have, or without its method and path."""
        fields = {name.removesuffix(".$") for name in self.request}
        unknown = sorted(fields - REQUEST_FIELDS)
        if unknown:
            raise ValueError(f"step {self.step!r}: the request template has a field payload version {PAYLOAD_VERSION} does not know: {unknown[0]}")
        if not {"method", "path"} <= fields:
            raise ValueError(f"step {self.step!r}: the request template needs its method and path")
        payload: dict[str, Any] = {
            VERSION_FIELD: PAYLOAD_VERSION,
            "step": self.step,
            "operationId": self.operation_id,
            "source": self.source,
            "request": dict(self.request),
            # A retried attempt knows it is one, and since when the run goes: a function can
            # then look for what an earlier attempt did before its answer was lost.
            "executionId.$": EXECUTION_ID_PATH,
            "attempt.$": RETRY_COUNT_PATH,
            "executionStartTime.$": EXECUTION_START_TIME_PATH,
        }
        if self.evaluate:
            payload["evaluate"] = {cid: dict(criterion) for cid, criterion in self.evaluate.items()}
        if self.values:
            payload["values"] = {vid: {"expression": value.expression, **_asl_field("value", value.value)} for vid, value in self.values.items()}
        if self.keep is not None:
            payload["keep"] = self.keep.to_json()
        if self.loops is not None:
            payload.update(_asl_field("loops", self.loops))
        if self.retry_loop is not None:
            payload["loopAgain"] = self.retry_loop.to_asl()
        if self.pages is not None:
            payload["pages"] = self.pages.to_json()
        return payload


@dataclass(frozen=True)
class CriteriaPayloadTemplate:
    """A criteria payload's Parameters: the criteria to judge, and the values they read, each
    from the state data when the Task runs."""

    step: str
    evaluate: Mapping[str, Criterion]
    values: Mapping[str, ValueTemplate] = field(default_factory=dict)

    def to_asl(self) -> dict[str, Any]:
        """The Payload, its version first. Raises ValueError when there is nothing to judge."""
        if not self.evaluate:
            raise ValueError(f"step {self.step!r}: a criteria payload needs at least one criterion")
        payload: dict[str, Any] = {
            VERSION_FIELD: PAYLOAD_VERSION,
            KIND_FIELD: CRITERIA_KIND,
            "step": self.step,
            "evaluate": {cid: dict(criterion) for cid, criterion in self.evaluate.items()},
        }
        if self.values:
            payload["values"] = {vid: {"expression": value.expression, **_asl_field("value", value.value)} for vid, value in self.values.items()}
        return payload

    def result_selector(self) -> dict[str, str]:
        """Each criterion's verdict out of Lambda's result, by id: with the Task's ResultPath
        at `$.steps.<step>.criteria`, the Choice rules read them where a step function's
        answer puts them."""
        return {f"{cid}.$": f"$.Payload.criteria.{cid}" for cid in self.evaluate}


def result_selector(*, counts_loops: bool) -> dict[str, str]:
    """The Task's ResultSelector: the answer's fields out of Lambda's result, `loops` too
    when the payload sends loop counters or a `loopAgain`."""
    selected = {f"{name}.$": f"$.Payload.{name}" for name in ANSWER_FIELDS + KEPT_FIELDS}
    if counts_loops:
        selected["loops.$"] = "$.Payload.loops"
    return selected


def _asl_field(name: str, value: Any) -> dict[str, Any]:
    return {f"{name}.$": value.path} if isinstance(value, StatePath) else {name: value}
