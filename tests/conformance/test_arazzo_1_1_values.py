"""Arazzo 1.1 values, compiled and run in moto's Step Functions engine against a scripted
server: embedded expressions written by their value's type, `in: querystring`,
`$sourceDescriptions.<name>.<field>` and `$self` as values. Each test cites the clause of the
Arazzo 1.1.0 text it checks. Documents: tests/fixtures/documents/arazzo-1.1/values/."""

from __future__ import annotations

from pathlib import Path

import pytest

from arazzo_runtime.errors import InvalidRequest
from arazzo_runtime.http import build_request
from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.loader import load_document
from arazzo_sfn.testing import Reply
from arazzo_sfn.validation import document_problems
from tests.conformance.test_constructs import Execution, execute

DOCUMENTS = Path(__file__).resolve().parents[1] / "fixtures" / "documents" / "arazzo-1.1" / "values"
EMBEDDED = DOCUMENTS / "embedded.arazzo.yaml"

THINGS = {"obj": {"a": 1, "b": [True, None]}, "arr": [1, "x"], "text": "plain text", "number": 2.5, "flag": True, "nothing": None}
# What each value becomes embedded in a string: a string as it is, anything else as JSON.
EMBEDDED_TEXT = {"obj": '{"a":1,"b":[true,null]}', "arr": '[1,"x"]', "text": "plain text", "number": "2.5", "flag": "true", "nothing": "null"}
LINE = " ".join(f"{name}={EMBEDDED_TEXT[name]}" for name in ("obj", "arr", "text", "number", "flag", "nothing"))
NOTE = "|".join(EMBEDDED_TEXT[name] for name in ("text", "number", "flag", "nothing", "arr"))


def run_embedded(workflow_id: str, inputs: dict) -> Execution:
    return execute(EMBEDDED, {"GET /things": [Reply(200, THINGS)], "POST /echo": [Reply(200, {})]}, inputs, workflow_id)


def sent(execution: Execution):
    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    return next(call for call in execution.server.calls if call.line == "POST /echo")


@pytest.mark.parametrize("workflow_id", ["typed-inputs", "response-values"])
def test_an_embedded_value_is_written_by_its_type_in_a_parameter(workflow_id):
    """Runtime Expressions (after the Examples): "Scalar values (string, number, boolean,
    null) are converted to their string representation"; a parsed structure "MUST be
    serialized as JSON per RFC 8259". An object in a query parameter, a string, a number, a
    boolean, null and an array in a header; typed by the inputs schema, or by the value at run time."""
    call = sent(run_embedded(workflow_id, THINGS if workflow_id == "typed-inputs" else {}))
    assert call.query == {"q": ["obj=" + EMBEDDED_TEXT["obj"]]}
    assert call.headers["x-note"] == NOTE


@pytest.mark.parametrize("workflow_id", ["typed-inputs", "response-values"])
def test_an_embedded_value_is_written_by_its_type_in_a_payload_string(workflow_id):
    """Runtime Expressions (after the Examples), in a request body's payload: each of an
    object, an array, a string, a number, a boolean and null embedded in one string member.
    "Runtime expressions preserve the type of the referenced value": a whole expression
    stays an object."""
    call = sent(run_embedded(workflow_id, THINGS if workflow_id == "typed-inputs" else {}))
    assert call.body["line"] == LINE
    if workflow_id == "typed-inputs":
        assert call.body["whole"] == THINGS["obj"]


def test_a_value_typed_by_the_inputs_schema_is_written_by_an_intrinsic_and_no_state_is_added():
    """Runtime Expressions: the value's type is known when the document is compiled."""
    states = compile_document(EMBEDDED, "typed-inputs")["States"]
    query = states["send"]["Parameters"]["Payload"]["request"]["query"]["q.$"]
    assert query == "States.Format('obj={}', States.JsonToString($.inputs.obj))"
    assert not [name for name in states if ".Text" in name]


def test_a_value_typed_only_at_run_time_gets_its_text_from_a_choice_before_the_task():
    """Runtime Expressions: a value read from a response has its type at run time only; each
    one is written once, before the Task that sends it."""
    execution = run_embedded("response-values", {})
    sent(execution)
    assert execution.states.index("send") < execution.states.index("send.Request")
    assert "send.Text0.Json" in execution.states  # the object (the query parameter's), written as JSON
    assert "send.Text1.String" in execution.states  # the string (the header's first), as it is


def test_an_embedded_value_typed_only_at_run_time_where_no_task_sends_it_is_refused_located():
    """Runtime Expressions: the text depends on the type, which neither the document nor a
    Task's function gives in an x-fail cause: refused as not supported, at the cause."""
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(EMBEDDED, "untyped-in-a-cause")
    assert "$steps.read.outputs.obj" in caught.value.message and "not supported" in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == "/workflows/2/steps/0/onSuccess/0/x-fail"


# --- in: querystring --------------------------------------------------------------------------

QUERYSTRING = DOCUMENTS / "querystring.arazzo.yaml"
SEARCH_ROUTES = {"GET /pets/search": [Reply(200, [])], "GET /pets": [Reply(200, [])]}


@pytest.mark.parametrize(("workflow_id", "inputs", "query"), [
    ("literal", {}, {"filter": ["active"], "sort": ["desc"], "limit": ["50"]}),
    # Embedded values, written by their type; a space is not allowed in a query: percent-encoded.
    ("embedded", {"category": "big dogs", "minPrice": 10}, {"category": ["big dogs"], "minPrice": ["10"], "inStock": ["true"]}),
    ("whole-expression", {"query": "a=1&b=café"}, {"a": ["1"], "b": ["café"]}),
    # application/json: the JSON text is the query, its braces and quotes percent-encoded.
    ("json", {}, {'{"filter":"active","limit":50}': [""]}),
], ids=["literal", "embedded", "whole expression", "json"])
def test_a_querystring_parameter_is_the_whole_query_string(workflow_id, inputs, query):
    """Parameter Object, `in`: "querystring - A parameter that treats the entire URL query
    string as a single value"; `value`: "the value MUST resolve to a string representing the
    complete query string (e.g., "key1=value1&key2=value2"). Runtime expressions can be
    embedded within the string value using {} notation." The Parameter Object Examples'
    three querystring forms, sent to an OpenAPI 3.2 operation that declares it."""
    execution = execute(QUERYSTRING, SEARCH_ROUTES, inputs, workflow_id)
    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    (call,) = execution.server.calls
    assert (call.line, call.query) == ("GET /pets/search", query)


def test_a_querystring_parameter_of_an_operation_that_declares_none_is_sent_alike():
    """Parameter Object, `in`: querystring is OpenAPI 3.2's; a 3.1 operation declares its query
    parameters one by one, and the step's whole query string is still what is sent."""
    execution = execute(QUERYSTRING, SEARCH_ROUTES, {}, "undeclared")
    (call,) = execution.server.calls
    assert (call.line, call.query) == ("GET /pets", {"limit": ["5"], "offset": ["10"]})


def test_the_query_string_keeps_what_a_url_query_holds_and_encodes_the_rest():
    """Parameter Object, `in`: the value is "a pre-formatted string": `&`, `=` and an escape
    already in it are sent as they are; a character a URL query may not hold is percent-encoded."""
    outgoing = build_request({"method": "GET", "path": "/pets", "queryString": "a=1&b=x%2Fy&c=big dogs#1&d=50%"}, "http://127.0.0.1:9")
    assert outgoing.full_url == "http://127.0.0.1:9/pets?a=1&b=x%2Fy&c=big%20dogs%231&d=50%25"


def test_a_querystring_value_that_is_not_a_string_is_refused_before_anything_is_sent():
    """Parameter Object, `value`: for querystring it "MUST resolve to a string"."""
    with pytest.raises(InvalidRequest, match="queryString"):
        build_request({"method": "GET", "path": "/pets", "queryString": {"a": 1}}, "http://127.0.0.1:9")


@pytest.mark.parametrize(("at", "message"), [
    ("/workflows/0/steps/0/parameters/1", "cannot coexist with query parameters"),
    ("/workflows/1/steps/0/parameters/0", "the operation's querystring parameter is 'criteria', not 'search'"),
], ids=["beside a query parameter", "not the operation's name"])
def test_a_querystring_parameter_that_breaks_the_rules_is_a_validation_error_where_it_is(at, message):
    """Parameter Object: "The querystring location cannot coexist with query parameters in the
    same operation"; "When a step references an operation that defines a querystring
    parameter", the step's parameter is that one (matched by name)."""
    problems = document_problems(load_document(DOCUMENTS / "querystring-invalid.arazzo.yaml"))
    found = [problem for problem in problems if problem.location is not None and problem.location.pointer == at]
    assert found and message in found[0].message


# --- $sourceDescriptions.<name>.<field> -------------------------------------------------------

SOURCE_FIELDS = DOCUMENTS / "source-fields.arazzo.yaml"
OWNER = {"team": "shelter", "on-call": ["ana", "bo"]}


def test_a_source_descriptions_fields_are_values_known_when_the_document_is_compiled():
    """Source Description Expression Resolution: "If no operationId/workflowId match is found,
    `<reference>` is matched against field names of the Source Description Object (e.g.,
    `url`, `type`)" (`$sourceDescriptions.petstore.url` resolves to the url, `.type` to
    `openapi`); an extension is a field too. Whole, embedded (an object as JSON, Runtime
    Expressions) and in an array; the step's operationPath is Relative References in Arazzo
    Description URIs, Resolving URI Fragments' example form."""
    execution = execute(SOURCE_FIELDS, {"POST /echo": [Reply(200, {})]}, {}, "fields")
    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    (call,) = execution.server.calls
    assert call.line == "POST /echo"
    assert call.query == {"q": ["openapi"]}
    assert call.headers["x-note"] == "source things at ./things.openapi.yaml"
    assert call.body == {"url": "./things.openapi.yaml", "owner": OWNER, "line": 'owner={"team":"shelter","on-call":["ana","bo"]}', "names": ["things", "openapi", "by things"]}
    # Constants: the request holds them as literals, no path into the state data.
    assert compile_document(SOURCE_FIELDS, "fields")["States"]["send"]["Parameters"]["Payload"]["request"]["query"] == {"q": "openapi"}


@pytest.mark.parametrize(("workflow_id", "message"), [
    ("operation-as-value", "names the operation 'getThings' of 'things'"),
    ("unknown-field", "has no operation of that id and no field 'description'"),
], ids=["an operationId first", "no such field"])
def test_a_source_description_reference_that_is_no_field_is_refused_as_a_value_where_it_is(workflow_id, message):
    """Source Description Expression Resolution: "`<reference>` is first matched against
    operationIds" ("If an operationId happens to conflict with a field name ..., the
    operationId takes precedence"): an operation is no value, refused as not supported."""
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(SOURCE_FIELDS, workflow_id)
    assert message in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == f"/workflows/{1 if workflow_id == 'operation-as-value' else 2}/steps/0/parameters/0"
