"""The step payload, the contract between the compiler and the functions: every field read
into its type, every malformed payload refused naming its field, a payload of another
version (or, once the compiler sends one, of none) refused by name, and the compiler's side
(`PayloadTemplate`) writing what the compiler writes today, with its version, which Step
Functions then turns into a payload the functions read back."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from arazzo_runtime import payload as contract
from arazzo_runtime.errors import InvalidRequest, LoopAgain, PayloadVersionMismatch
from arazzo_runtime.evaluate import Response
from arazzo_runtime.payload import (
    DEFAULT_MAX_PAGES,
    PAYLOAD_VERSION,
    Keep,
    Pages,
    PayloadTemplate,
    RetryLoop,
    RetryLoopTemplate,
    StatePath,
    StepPayload,
    ValueTemplate,
    parse_payload,
    result_selector,
)
from arazzo_runtime.step import criteria_answer, step_answer
from arazzo_sfn.compiler import compile_bundle

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "payload" / "loops.arazzo.yaml"
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:jobs:run-1"
SUCCESS = {"type": "simple", "condition": "$statusCode == 200", "context": None}
DONE = {"type": "simple", "condition": "$response.body#/status != 'done'", "context": None}


def full_payload() -> dict[str, Any]:
    """A payload with every field, as Step Functions hands it to a function."""
    return copy.deepcopy({
        "payloadVersion": PAYLOAD_VERSION,
        "step": "poll",
        "operationId": "getJob",
        "source": "jobs",
        "request": {
            "method": "POST",
            "path": "/jobs/{jobId}",
            "pathParameters": {"jobId": "j-1"},
            "query": {"verbose": True},
            "headers": {"X-Trace": "t-1"},
            "cookies": {"session": "s"},
            "contentType": "application/json",
            "body": {"status": None},
            "replacements": [{"target": "/status", "value": "queued"}],
            "omitNull": ["/status"],
        },
        "executionId": EXECUTION_ID,
        "attempt": 2,
        "executionStartTime": "2026-12-01T09:00:00.123Z",
        "evaluate": {
            "c0": DONE,
            "c1": {"type": "jsonpath", "condition": "$[?@.status == $inputs.wanted]", "context": "$response.body", "version": "draft-goessner-dispatch-jsonpath-00"},
        },
        "values": {"v0": {"expression": "$inputs.wanted", "value": "done"}, "v1": {"expression": "$inputs.absent"}},
        "keep": {
            "body": ["/status", ""],
            "headers": ["retry-after"],
            "outputs": {"status": "$response.body#/status"},
            "reads": {"r0": {"seconds": "$response.header.Retry-After", "fallback": 30}, "r1": "$statusCode"},
            "success": [SUCCESS],
        },
        "loops": {"poll_notDone": {"iterations": 1, "total": 4}},
        "loopAgain": {"key": "poll_notDone", "while": ["c0"], "unless": [["c1"]], "budget": 7666, "maxIterations": 3},
    })


def changed(path: str, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    """The full payload with the member at a dotted path replaced (or deleted)."""
    event = full_payload()
    *parents, last = path.split(".")
    holder: Any = event
    for part in parents:
        holder = holder[int(part)] if isinstance(holder, list) else holder[part]
    if delete:
        del holder[last]
    elif isinstance(holder, list):
        holder[int(last)] = value
    else:
        holder[last] = value
    return event


# ---------------------------------------------------------------- reading a payload


def test_every_field_is_read_into_its_type():
    read = parse_payload(full_payload())

    assert read == StepPayload(
        version=PAYLOAD_VERSION,
        step="poll",
        operation_id="getJob",
        source="jobs",
        request=full_payload()["request"],
        execution_id=EXECUTION_ID,
        attempt=2,
        execution_start_time=datetime(2026, 12, 1, 9, 0, 0, 123_000, tzinfo=UTC),
        evaluate=full_payload()["evaluate"],
        values={"v0": {"expression": "$inputs.wanted", "value": "done"}, "v1": {"expression": "$inputs.absent"}},
        keep=Keep(
            body=("/status", ""),
            headers=("retry-after",),
            outputs={"status": "$response.body#/status"},
            reads={"r0": {"seconds": "$response.header.Retry-After", "fallback": 30}, "r1": "$statusCode"},
            success=(SUCCESS,),
        ),
        loops={"poll_notDone": {"iterations": 1, "total": 4}},
        retry_loop=RetryLoop(key="poll_notDone", holds=("c0",), unless=(("c1",),), budget=7666, max_iterations=3),
    )


def test_what_a_payload_leaves_out_has_its_default():
    read = parse_payload({"payloadVersion": PAYLOAD_VERSION, "step": "list", "operationId": None, "source": "jobs", "request": {"method": "GET", "path": "/jobs"}})

    assert read == StepPayload(version=PAYLOAD_VERSION, step="list", operation_id=None, source="jobs", request={"method": "GET", "path": "/jobs"})
    assert (read.attempt, read.evaluate, read.values, read.keep, read.loops, read.retry_loop) == (0, {}, {}, None, None, None)


def test_a_criterion_without_type_or_context_is_a_simple_one():
    event = changed("evaluate", {"c0": {"condition": "$statusCode == 200"}})
    event["loopAgain"]["unless"] = []
    assert parse_payload(event).evaluate == {"c0": SUCCESS}


def test_a_start_time_without_a_zone_is_utc():
    read = parse_payload(changed("executionStartTime", "2026-12-01T09:00:00"))
    assert read.execution_start_time == datetime(2026, 12, 1, 9, tzinfo=UTC)


MALFORMED = [
    # (the payload, the field its message names, what it says)
    pytest.param(changed("step", None), "step", "must be a non-empty string, not null", id="step-null"),
    pytest.param(changed("step", ""), "step", "must be a non-empty string, not an empty string", id="step-empty"),
    pytest.param(changed("source", None), "source", "must be a non-empty string, not null", id="source-missing"),
    pytest.param(changed("operationId", 7), "operationId", "must be a non-empty string or null, not a number", id="operationId-number"),
    pytest.param(changed("surprise", 1), "surprise", "has a field payload version 1 does not know", id="unknown-field"),
    pytest.param(changed("request", "GET /jobs"), "request", "must be a JSON object, not a string", id="request-string"),
    pytest.param(changed("request.method", None), "request.method", "must be a non-empty string", id="method-missing"),
    pytest.param(changed("request.path", 7), "request.path", "must be a non-empty string, not a number", id="path-number"),
    pytest.param(changed("request.pathParameters", [1]), "request.pathParameters", "must be a JSON object, not an array", id="pathParameters-array"),
    pytest.param(changed("request.query", "a=1"), "request.query", "must be a JSON object", id="query-string"),
    pytest.param(changed("request.headers", None), "request.headers", "must be a JSON object, not null", id="headers-null"),
    pytest.param(changed("request.cookies", 1), "request.cookies", "must be a JSON object", id="cookies-number"),
    pytest.param(changed("request.contentType", ""), "request.contentType", "must be a non-empty string", id="contentType-empty"),
    pytest.param(changed("request.replacements", {}), "request.replacements", "must be a list", id="replacements-object"),
    pytest.param(changed("request.replacements.0", {"target": "/a"}), "request.replacements.0", "must be {target, value}", id="replacement-without-value"),
    pytest.param(changed("request.omitNull", "/a"), "request.omitNull", "must be a list of strings", id="omitNull-string"),
    pytest.param(changed("request.url", "https://elsewhere"), "url", "does not know", id="request-unknown-field"),
    pytest.param(changed("executionId", ""), "executionId", "must be a non-empty string or null", id="executionId-empty"),
    pytest.param(changed("attempt", -1), "attempt", "must be a non-negative integer, not -1", id="attempt-negative"),
    pytest.param(changed("attempt", True), "attempt", "must be a non-negative integer, not a boolean", id="attempt-boolean"),
    pytest.param(changed("executionStartTime", "yesterday"), "executionStartTime", "must be an ISO 8601 time", id="start-time-text"),
    pytest.param(changed("evaluate", []), "evaluate", "must be a JSON object, not an array", id="evaluate-array"),
    pytest.param(changed("evaluate.c0", "$statusCode == 200"), "evaluate.c0", "must be a JSON object", id="criterion-string"),
    pytest.param(changed("evaluate.c0.condition", ""), "evaluate.c0.condition", "must be a non-empty string", id="condition-empty"),
    pytest.param(changed("evaluate.c0.type", 1), "evaluate.c0.type", "must be a string", id="type-number"),
    pytest.param(changed("evaluate.c0.context", 1), "evaluate.c0.context", "must be a runtime expression string or null", id="context-number"),
    pytest.param(changed("evaluate.c0.version", 1), "evaluate.c0.version", "must be a non-empty string", id="criterion-version-number"),
    pytest.param(changed("evaluate.c0.negate", True), "negate", "does not know", id="criterion-unknown-field"),
    pytest.param(changed("values", "v"), "values", "must be a JSON object, not a string", id="values-string"),
    pytest.param(changed("values.v0", "$inputs.wanted"), "values.v0", "must be a JSON object", id="value-string"),
    pytest.param(changed("values.v0.expression", None), "values.v0.expression", "must be a non-empty string", id="value-without-expression"),
    pytest.param(changed("keep", []), "keep", "must be a JSON object, not an array", id="keep-array"),
    pytest.param(changed("keep.body", "/status"), "keep.body", "must be a list of strings", id="keep-body-string"),
    pytest.param(changed("keep.body.0", "status"), "keep.body", "a JSON pointer is empty or starts with '/'", id="keep-body-not-a-pointer"),
    pytest.param(changed("keep.headers", [1]), "keep.headers", "must be a list of strings", id="keep-headers-numbers"),
    pytest.param(changed("keep.outputs", ["$statusCode"]), "keep.outputs", "must be a JSON object", id="keep-outputs-array"),
    pytest.param(changed("keep.outputs.status", 7), "keep.outputs.status", "must be a runtime expression or {seconds, fallback}", id="output-number"),
    pytest.param(changed("keep.outputs.status", "$response.body#status"), "keep.outputs.status", "pointer", id="output-bad-pointer"),
    pytest.param(changed("keep.outputs.status", "$inputs.wanted"), "keep.outputs.status", "is not an expression about the response", id="output-not-about-the-answer"),
    pytest.param(changed("keep.reads.r0", {"seconds": "$response.header.Retry-After"}), "keep.reads.r0", "{seconds, fallback}", id="wait-without-fallback"),
    pytest.param(changed("keep.reads.r0.fallback", -1), "keep.reads.r0", "{seconds, fallback}", id="wait-negative-fallback"),
    pytest.param(changed("keep.reads.r0.seconds", "$inputs.wait"), "keep.reads.r0.seconds", "is not an expression about the response", id="wait-not-about-the-answer"),
    pytest.param(changed("keep.success", SUCCESS), "keep.success", "must be a list of criteria", id="success-object"),
    pytest.param(changed("keep.success.0.condition", None), "keep.success.0.condition", "must be a non-empty string", id="success-without-condition"),
    pytest.param(changed("keep.drop", []), "drop", "does not know", id="keep-unknown-field"),
    pytest.param(changed("loops", [1]), "loops", "must be a JSON object", id="loops-array"),
    pytest.param(changed("loops.poll_notDone", {"iterations": 1}), "loops.poll_notDone", "must be {iterations, total}", id="counter-without-total"),
    pytest.param(changed("loops.poll_notDone.total", -1), "loops.poll_notDone", "two non-negative integers", id="counter-negative"),
    pytest.param(changed("loopAgain", "poll"), "loopAgain", "must be a JSON object, not a string", id="loopAgain-string"),
    pytest.param(changed("loopAgain.key", None), "loopAgain.key", "must be a non-empty string", id="loop-key-missing"),
    pytest.param(changed("loopAgain.while", "c0"), "loopAgain.while", "must be a list of strings", id="while-string"),
    pytest.param(changed("loopAgain.unless", ["c1"]), "loopAgain.unless.0", "must be a list of strings", id="unless-flat"),
    pytest.param(changed("loopAgain.unless", None), "loopAgain.unless", "must be a list of lists of criterion ids", id="unless-missing"),
    pytest.param(changed("loopAgain.while", ["c9"]), "loopAgain", "names criterion c9, which is not in evaluate", id="while-unknown-criterion"),
    pytest.param(changed("loopAgain.maxIterations", "3"), "loopAgain.maxIterations", "must be a non-negative integer, not a string", id="maxIterations-string"),
    pytest.param(changed("loopAgain.budget", 2.5), "loopAgain.budget", "must be a non-negative integer, not 2.5", id="budget-fraction"),
    pytest.param(changed("loopAgain.every", 1), "every", "does not know", id="loopAgain-unknown-field"),
]


@pytest.mark.parametrize(("event", "field", "problem"), MALFORMED)
def test_a_malformed_payload_is_refused_naming_its_field(event, field, problem):
    with pytest.raises(InvalidRequest) as raised:
        parse_payload(event)

    message = str(raised.value)
    assert field in message
    assert problem in message
    # Every refusal but the step's own says which step's payload it is.
    assert message.startswith("poll: ") or field == "step"


@pytest.mark.parametrize("event", [None, [], "poll", 7], ids=["null", "array", "string", "number"])
def test_an_event_that_is_no_object_is_refused(event):
    with pytest.raises(InvalidRequest, match="the event must be a JSON object, not "):
        parse_payload(event)


# ---------------------------------------------------------------- the version


def test_a_payload_of_another_version_is_refused_by_name():
    with pytest.raises(PayloadVersionMismatch) as raised:
        parse_payload(changed("payloadVersion", PAYLOAD_VERSION + 1))

    assert str(raised.value) == (
        f"poll: the state machine sends payload version {PAYLOAD_VERSION + 1}, these functions read version {PAYLOAD_VERSION}: deploy both from the same build"
    )
    assert not isinstance(raised.value, InvalidRequest)


def test_the_version_is_read_before_the_rest():
    """A payload of another version may well be malformed for this one: the version says why."""
    event = changed("payloadVersion", 0)
    event["request"] = "GET /jobs"
    with pytest.raises(PayloadVersionMismatch, match="sends payload version 0"):
        parse_payload(event)


@pytest.mark.parametrize("version", ["1", 1.0, True, -1], ids=["string", "float", "boolean", "negative"])
def test_a_version_that_is_no_integer_is_malformed(version):
    with pytest.raises(InvalidRequest, match="poll: payloadVersion must be a non-negative integer"):
        parse_payload(changed("payloadVersion", version))


def test_with_the_allowance_a_payload_without_a_version_is_read_as_this_version(monkeypatch):
    monkeypatch.setattr(contract, "ACCEPT_UNVERSIONED_PAYLOADS", True)
    assert parse_payload(changed("payloadVersion", delete=True)).version == PAYLOAD_VERSION


def test_without_the_allowance_a_payload_without_a_version_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(contract, "ACCEPT_UNVERSIONED_PAYLOADS", False)

    with pytest.raises(PayloadVersionMismatch) as raised:
        parse_payload(changed("payloadVersion", delete=True))

    assert str(raised.value) == f"poll: the state machine sends no payload version, these functions read version {PAYLOAD_VERSION}: deploy both from the same build"
    assert parse_payload(full_payload()).version == PAYLOAD_VERSION


def test_a_null_version_is_no_version():
    with pytest.raises(PayloadVersionMismatch, match="sends no payload version"):
        parse_payload(changed("payloadVersion", None))


# ---------------------------------------------------------------- the compiler's side


def compiled_tasks() -> list[tuple[str, dict[str, Any]]]:
    """(where, Task) for every Task the compiler writes for the fixture's workflows and this
    project's own state machines."""
    tasks = []
    machines = {workflow_id: compile_bundle(FIXTURE, workflow_id)[workflow_id] for workflow_id in ("retry-poll", "folded-poll")}
    machines |= {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted((ROOT / "statemachine").glob("*.asl.json"))}
    for machine, asl in machines.items():
        tasks += [(f"{machine}: {name}", state) for name, state in asl["States"].items() if state["Type"] == "Task" and "Payload" in state.get("Parameters", {})]
    return tasks


TASKS = compiled_tasks()


def template_of(payload: dict[str, Any]) -> PayloadTemplate:
    """The `PayloadTemplate` a compiler would build for a Payload it writes today: its
    parts, read out of the ASL."""
    def value_of(entry: dict[str, Any], name: str) -> Any:
        return StatePath(entry[f"{name}.$"]) if f"{name}.$" in entry else entry.get(name)

    keep = payload.get("keep")
    loop = payload.get("loopAgain")
    pages = payload.get("pages")
    return PayloadTemplate(
        step=payload["step"],
        operation_id=payload["operationId"],
        source=payload["source"],
        request=payload["request"],
        evaluate=payload.get("evaluate", {}),
        values={vid: ValueTemplate(entry["expression"], value_of(entry, "value")) for vid, entry in payload.get("values", {}).items()},
        keep=None if keep is None else Keep(
            tuple(keep.get("body", [])), tuple(keep.get("headers", [])), keep.get("outputs", {}), keep.get("reads", {}), tuple(keep["success"])
        ),
        loops=StatePath(payload["loops.$"]) if "loops.$" in payload else None,
        retry_loop=None if loop is None else RetryLoopTemplate(
            loop["key"], tuple(loop["while"]), tuple(tuple(group) for group in loop["unless"]), loop["budget"], value_of(loop, "maxIterations")
        ),
        pages=None if pages is None else Pages(
            pages["items"], pages.get("offset"), pages.get("limit"), pages.get("next"), tuple(pages.get("select", ())), pages["maxPages"]
        ),
    )


def test_the_fixture_has_every_part_of_a_payload():
    written = [task["Parameters"]["Payload"] for _, task in TASKS]
    for part in ("evaluate", "values", "keep", "loops.$", "loopAgain"):
        assert any(part in payload for payload in written), part
    assert any("maxIterations.$" in payload.get("loopAgain", {}) for payload in written)


@pytest.mark.parametrize(("where", "task"), TASKS, ids=[where for where, _ in TASKS])
def test_the_template_writes_what_the_compiler_writes_with_the_version_first(where, task):
    written = task["Parameters"]["Payload"]

    built = template_of(written).to_asl()

    # The same text, the same order: the state machines change by the version alone.
    assert json.dumps(built) == json.dumps({"payloadVersion": PAYLOAD_VERSION, **written})


@pytest.mark.parametrize(("where", "task"), TASKS, ids=[where for where, _ in TASKS])
def test_the_result_selector_is_the_compilers(where, task):
    counts_loops = "loops.$" in task["Parameters"]["Payload"] or "loopAgain" in task["Parameters"]["Payload"]
    assert result_selector(counts_loops=counts_loops) == task["ResultSelector"]


def step_functions_resolve(template: Any, state: dict[str, Any], context: dict[str, Any]) -> Any:
    """What Step Functions makes of a Parameters template: each `<field>.$` replaced by the
    value at its path in the state (`$.`) or the context object (`$$.`)."""
    if isinstance(template, list):
        return [step_functions_resolve(item, state, context) for item in template]
    if not isinstance(template, dict):
        return template
    resolved = {}
    for key, value in template.items():
        if key.endswith(".$"):
            root, path = (context, value[3:]) if value.startswith("$$.") else (state, value[2:])
            for part in path.split("."):
                root = root[part]
            resolved[key[:-2]] = root
        else:
            resolved[key] = step_functions_resolve(value, state, context)
    return resolved


def test_a_payload_built_by_the_template_reads_back_as_what_was_built():
    template = PayloadTemplate(
        step="poll",
        operation_id="getJob",
        source="jobs",
        request={"method": "GET", "path": "/jobs/{jobId}", "pathParameters": {"jobId.$": "$.inputs.jobId"}, "headers": {"X-Trace": "t-1"}},
        evaluate={"c0": DONE, "c1": {"type": "jsonpath", "condition": "$[?@.status == $inputs.wanted]", "context": "$response.body"}},
        values={"v0": ValueTemplate("$inputs.wanted", StatePath("$.inputs.wanted"))},
        keep=Keep(body=("/status",), outputs={"status": "$response.body#/status"}, reads={"r0": {"seconds": "$response.header.Retry-After", "fallback": 30}}, success=(SUCCESS,)),
        loops=StatePath("$.steps.poll.loops"),
        retry_loop=RetryLoopTemplate("poll_notDone", ("c0",), (("c1",),), 7666, StatePath("$.inputs.max")),
    )
    state = {"inputs": {"jobId": "j-1", "wanted": "done", "max": 4}, "steps": {"poll": {"loops": {"poll_back": {"iterations": 2, "total": 9}}}}}
    context = {"Execution": {"Id": EXECUTION_ID, "StartTime": "2026-12-01T09:00:00Z"}, "State": {"RetryCount": 1}}

    event = json.loads(json.dumps(step_functions_resolve(template.to_asl(), state, context)))
    read = parse_payload(event)

    assert read == StepPayload(
        version=PAYLOAD_VERSION,
        step="poll",
        operation_id="getJob",
        source="jobs",
        request={"method": "GET", "path": "/jobs/{jobId}", "pathParameters": {"jobId": "j-1"}, "headers": {"X-Trace": "t-1"}},
        execution_id=EXECUTION_ID,
        attempt=1,
        execution_start_time=datetime(2026, 12, 1, 9, tzinfo=UTC),
        evaluate=template.evaluate,
        values={"v0": {"expression": "$inputs.wanted", "value": "done"}},
        keep=template.keep,
        loops={"poll_back": {"iterations": 2, "total": 9}},
        retry_loop=RetryLoop("poll_notDone", ("c0",), (("c1",),), 7666, 4),
    )


def test_the_template_refuses_a_request_the_payload_cannot_carry():
    with pytest.raises(ValueError, match=re.escape("step 'poll': the request template has a field payload version 1 does not know: url")):
        PayloadTemplate("poll", "getJob", "jobs", {"method": "GET", "path": "/jobs", "url.$": "$.inputs.url"}).to_asl()
    with pytest.raises(ValueError, match="needs its method and path"):
        PayloadTemplate("poll", "getJob", "jobs", {"method": "GET"}).to_asl()


# ---------------------------------------------------------------- the answer to a typed payload


def test_the_answer_keeps_what_the_payload_asks_and_counts_its_loops():
    event = full_payload()
    event["loopAgain"] = None
    read = parse_payload(event)
    response = Response(200, {"Retry-After": "12", "X-Other": "x"}, {"status": "running", "id": 7})

    answer = step_answer(response, read)

    assert answer == {
        "statusCode": 200,
        "headers": {"retry-after": "12"},
        "body": {"status": "running", "id": 7},  # "" among keep.body keeps it all
        "retryAfterSeconds": 12,
        "criteria": {"c0": True, "c1": False},
        "outputs": {"status": "running"},
        "reads": {"r0": 12, "r1": 200},
        "loops": {"poll_notDone": {"iterations": 2, "total": 5}},
    }


def test_a_retry_loop_goes_on_while_its_criteria_hold_and_its_bound_is_not_reached():
    event = full_payload()
    event["values"]["v0"]["value"] = "other"  # c1 (an earlier action's criterion) does not hold
    response = Response(200, {}, {"status": "running"})

    with pytest.raises(LoopAgain, match=r"poll: the loop goes on \(pass 3\)"):
        step_answer(response, parse_payload(event))

    at_bound = copy.deepcopy(event)
    at_bound["attempt"] = 3
    answer = step_answer(response, parse_payload(at_bound))
    assert answer["loops"] == {"poll_notDone": {"iterations": 3, "total": 3}}


# ---------------------------------------------------------------- pages (x-pages)


def with_pages(pages: Any) -> dict[str, Any]:
    event = full_payload()
    event["pages"] = pages
    return event


def test_pages_are_read_with_their_defaults_and_written_back_as_read():
    by_offset = parse_payload(with_pages({"items": "/data", "offset": "offset", "limit": "limit", "select": ["/id"]})).pages
    by_link = parse_payload(with_pages({"items": "", "next": "/links/next", "maxPages": 3})).pages

    assert by_offset == Pages(items="/data", offset="offset", limit="limit", select=("/id",), max_pages=DEFAULT_MAX_PAGES)
    assert by_link == Pages(items="", next="/links/next", max_pages=3)
    assert by_offset.to_json() == {"items": "/data", "offset": "offset", "limit": "limit", "select": ["/id"], "maxPages": DEFAULT_MAX_PAGES}
    assert parse_payload(with_pages(by_link.to_json())).pages == by_link
    assert parse_payload(full_payload()).pages is None


@pytest.mark.parametrize(
    ("pages", "field", "problem"),
    [
        pytest.param([], "pages", "must be a JSON object", id="array"),
        pytest.param({"offset": "offset"}, "pages.items", "must be a JSON Pointer string, not null", id="no-items"),
        pytest.param({"items": "data", "offset": "offset"}, "pages.items", "starts with '/'", id="items-not-a-pointer"),
        pytest.param({"items": "/data"}, "pages", "one of the two", id="neither"),
        pytest.param({"items": "/data", "offset": "offset", "next": "/next"}, "pages", "one of the two", id="both"),
        pytest.param({"items": "/data", "next": "/next", "limit": "limit"}, "pages.limit", "belongs with offset", id="limit-without-offset"),
        pytest.param({"items": "/data", "offset": ""}, "pages.offset", "must be a non-empty string", id="offset-empty"),
        pytest.param({"items": "/data", "offset": "offset", "select": ["id"]}, "pages.select.0", "starts with '/'", id="select-not-a-pointer"),
        pytest.param({"items": "/data", "offset": "offset", "maxPages": 0}, "pages.maxPages", "at least 1", id="no-pages"),
        pytest.param({"items": "/data", "offset": "offset", "every": 1}, "pages", "does not know: every", id="unknown-field"),
    ],
)
def test_malformed_pages_are_refused_naming_their_field(pages, field, problem):
    with pytest.raises(InvalidRequest, match=re.escape(problem)) as raised:
        parse_payload(with_pages(pages))
    assert str(raised.value).startswith(f"poll: {field}")


def test_the_template_writes_the_pages_the_function_reads():
    pages = Pages(items="/data", offset="offset", limit="limit", max_pages=5)
    written = PayloadTemplate(step="list", operation_id="listItems", source="catalog", request={"method": "GET", "path": "/items"}, pages=pages).to_asl()

    assert written["pages"] == {"items": "/data", "offset": "offset", "limit": "limit", "maxPages": 5}
    written.update({"executionId": EXECUTION_ID, "attempt": 0, "executionStartTime": "2026-12-01T09:00:00Z"})
    for key in ("executionId.$", "attempt.$", "executionStartTime.$"):
        del written[key]
    assert parse_payload(written).pages == pages


# ---------------------------------------------------------------- the documentation


def documented_fields(heading: str) -> set[str]:
    """The field names in the first column of the table under a heading of docs/contract.md."""
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("heading", "fields"),
    [
        ("## The payload", contract.PAYLOAD_FIELDS),
        ("### `request`", contract.REQUEST_FIELDS),
        ("### A criterion (`evaluate`, `keep.success`)", contract.CRITERION_FIELDS),
        ("### `keep`", contract.KEEP_FIELDS),
        ("### `loopAgain`", contract.LOOP_AGAIN_FIELDS),
        ("### `pages`", contract.PAGES_FIELDS),
        ("## The answer", set(contract.StepAnswer.__annotations__)),
        ("## The criteria payload", contract.CRITERIA_PAYLOAD_FIELDS),
    ],
    ids=["payload", "request", "criterion", "keep", "loopAgain", "pages", "answer", "criteria payload"],
)
def test_the_documentation_describes_every_field_and_no_other(heading, fields):
    assert documented_fields(heading) == set(fields)


# ---------------------------------------------------------------- the criteria payload

CHILD_CRITERIA = Path(__file__).resolve().parents[1] / "fixtures" / "documents" / "child-criteria" / "jobs.arazzo.yaml"


def test_a_criteria_payload_built_by_the_template_reads_back_and_is_judged_ignoring_case():
    template = contract.CriteriaPayloadTemplate(
        step="read",
        evaluate={"c0": {"type": "simple", "condition": "$outputs.status == 'succeeded'", "context": None}},
        values={"v0": ValueTemplate("$outputs.status", StatePath("$.steps.read.outputs.status"))},
    )
    written = template.to_asl()
    assert list(written)[:2] == ["payloadVersion", "kind"] and written["kind"] == "criteria"
    assert written["values"] == {"v0": {"expression": "$outputs.status", "value.$": "$.steps.read.outputs.status"}}
    assert template.result_selector() == {"c0.$": "$.Payload.criteria.c0"}
    # What Step Functions sends once it resolved the path.
    event = {**written, "values": {"v0": {"expression": "$outputs.status", "value": "SUCCEEDED"}}}
    assert contract.is_criteria_payload(event) and not contract.is_criteria_payload({"step": "read"})
    parsed = contract.parse_criteria_payload(event)
    assert parsed == contract.CriteriaPayload(PAYLOAD_VERSION, "read", written["evaluate"], event["values"])
    assert criteria_answer(parsed) == {"criteria": {"c0": True}}


def test_a_step_payload_reader_refuses_a_criteria_payload_and_the_other_way_round():
    criteria = {"payloadVersion": PAYLOAD_VERSION, "kind": "criteria", "step": "read", "evaluate": {"c0": {"condition": "$outputs.x == 'a'"}}}
    with pytest.raises(InvalidRequest, match="read: kind must be 'operation' for a step payload"):
        parse_payload(criteria)
    with pytest.raises(InvalidRequest, match="read: kind must be 'criteria' for a criteria payload"):
        contract.parse_criteria_payload({**criteria, "kind": "other"})
    with pytest.raises(ValueError, match="needs at least one criterion"):
        contract.CriteriaPayloadTemplate(step="read", evaluate={}).to_asl()


def test_the_compiler_writes_the_criteria_task_through_the_template():
    task = compile_bundle(CHILD_CRITERIA, "check-job")["check-job"]["States"]["read.Criteria"]
    payload = task["Parameters"]["Payload"]
    template = contract.CriteriaPayloadTemplate(
        step="read",
        evaluate=payload["evaluate"],
        values={vid: ValueTemplate(value["expression"], StatePath(value["value.$"])) for vid, value in payload["values"].items()},
    )
    assert payload == template.to_asl()
    assert task["ResultSelector"] == template.result_selector()
    assert task["ResultPath"] == "$.steps.read.criteria"
