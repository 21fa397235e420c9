"""Arazzo 1.1 Selector Objects, compiled and run: in a step's outputs, a workflow's outputs,
parameter values, payload members however deep, replacement values, and JSONPath
replacement targets (Arazzo 1.1.0, "Selector Object", "Expression Type Object",
"Parameter Object", "Request Body Object", "Payload Replacement Object").

The documents are in tests/fixtures/documents/arazzo-1.1/selectors; each runs in moto's
Step Functions engine, every step performed by the operation function against a scripted
server. What a selector yields (docs/compiler/arazzo-1.1-selectors.md): a JSON Pointer or a
singular JSONPath query the value of its one node, null when there is none; any other
JSONPath query the array of its nodes' values, empty when there are none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import ExpressionError, UnsupportedConstruct
from arazzo_sfn.loader import load_document
from arazzo_sfn.testing import Reply
from arazzo_sfn.validation import document_problems
from tests.conformance.test_constructs import execute
from tests.conformance.test_unseen_documents import lambda_error

DOCUMENTS = Path(__file__).resolve().parents[1] / "fixtures" / "documents" / "arazzo-1.1" / "selectors"
SELECTORS = DOCUMENTS / "selectors.arazzo.yaml"
REFUSED = DOCUMENTS / "refused.arazzo.yaml"
INVALID = DOCUMENTS / "invalid.arazzo.yaml"

ORDERS = {
    "orders": [
        {"id": "o-1", "status": "open", "total": 10, "lines": [{"sku": "A", "qty": 1}]},
        {"id": "o-2", "status": "closed", "total": 3, "lines": [{"sku": "B", "qty": 2}]},
        {"id": "o-3", "status": "open", "total": 7, "lines": []},
    ],
    "meta": {"page": {"size": 3}},
}


def listed() -> Reply:
    return Reply(200, ORDERS, {"X-Trace": "t-1"})


def test_selectors_in_a_steps_outputs_select_from_the_response():
    """Step Object, `outputs` ("a Runtime Expression or Selector Object"); Selector Object,
    Fixed Fields (`context` `$response.body`, `selector`, `type` jsonpath or jsonpointer);
    Expression Type Object (jsonpath `rfc9535` the default, `draft-goessner-dispatch-jsonpath-00`)."""
    execution = execute(SELECTORS, {"GET /orders": listed()}, {}, "step-outputs")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    output = execution.result.output
    # Singular queries and pointers: their one node's value.
    assert (output["firstId"], output["pageSize"], output["lastId"]) == ("o-1", 3, "o-3")
    # Queries of several nodes (a filter, Goessner's filter, a descendant): the array of their values.
    assert output["openIds"] == ["o-1", "o-3"]
    assert output["bigIds"] == ["o-1", "o-3"]
    assert output["allTotals"] == [10, 3, 7]


def test_a_query_on_a_value_of_the_state_data_in_a_steps_outputs_is_applied_by_its_function():
    """Step Object, `outputs`; Selector Object, `context` (any runtime expression giving
    structured data, here an input): the function is sent the input's value and applies the filter."""
    tags = [{"name": "a", "on": True}, {"name": "b", "on": False}]
    execution = execute(SELECTORS, {"GET /orders": listed()}, {"tags": tags}, "step-outputs")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.result.output["tagged"] == ["a"]
    payload = execution.asl["States"]["list"]["Parameters"]["Payload"]
    assert payload["values"] == {"v0": {"expression": "$inputs.tags", "value.$": "$.inputs.tags"}}


def test_an_object_shaped_like_a_selector_in_an_arazzo_1_0_document_is_a_literal():
    """Arazzo 1.0.1 has no Selector Object: the object is sent as written (1.1's semantics
    apply only to 1.1 documents)."""
    execution = execute(DOCUMENTS / "literal-1.0.arazzo.yaml", {"PUT /inventory": Reply(200, {})}, {}, "literal")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.server.calls[0].body == {"filter": {"context": "catalog", "selector": "/shelves/0", "type": "jsonpointer"}}


def test_a_selector_that_selects_nothing_in_a_response_gives_null_or_an_empty_array():
    """Selector Object, `selector`: a singular query with no node gives null (as an output
    that does not resolve); a query of several nodes with none gives an empty array."""
    execution = execute(SELECTORS, {"GET /orders": listed()}, {}, "step-outputs")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.result.output["absent"] is None
    assert execution.result.output["noneVoid"] == []


def test_a_context_that_is_not_structured_data_gives_null_in_an_output():
    """Selector Object, `context`: "MUST evaluate to structured data". A header is text: its
    selection gives null, so the step's criteria and actions still judge the answer."""
    execution = execute(SELECTORS, {"GET /orders": listed()}, {}, "step-outputs")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.result.output["fromHeader"] is None
    assert execution.result.output["fromHeaderQuery"] is None


def test_selectors_in_a_workflows_outputs_select_from_a_steps_output():
    """Workflow Object, `outputs` ("a Runtime Expression or Selector Object"): a pointer or a
    singular query on a step's output is a path, a pointer into a selected array reads its
    item, and a filter on what a step read of its answer is applied by that step's function."""
    execution = execute(SELECTORS, {"GET /orders": listed()}, {}, "step-outputs")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    output = execution.result.output
    assert (output["secondTotal"], output["firstOpenAgain"], output["firstOpen"]) == (3, "o-1", "o-1")
    assert output["closedIds"] == ["o-2"]
    # No state of the workflow's own: the step's function resolved them with its answer.
    assert execution.tasks == ["list"]


REQUEST_INPUTS = {
    "filter": {"status": "open", "page": {"size": 5}},
    "tags": [{"name": "a", "on": True}, {"name": "b", "on": False}, {"name": "c", "on": True}],
}


def test_selectors_in_parameter_values_send_what_they_select():
    """Parameter Object, `value` ("a constant, a Runtime Expression, or a Selector Object to be
    evaluated and passed"): a pointer and a singular query on an input are paths; a filter on
    an input is applied by the function (an array: a header joins it); a query with no node
    sends no parameter."""
    execution = execute(SELECTORS, {"GET /orders": listed(), "POST /orders/{orderId}/notes": Reply(201, {})}, REQUEST_INPUTS, "request-values")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    listing = execution.server.calls[0]
    assert listing.query == {"status": ["open"], "limit": ["5"]}  # no cursor: its query selects nothing
    assert listing.headers["x-tags"] == "a, c"
    assert execution.requests == ["GET /orders", "POST /orders/o-1/notes"]  # a singular query on a step's output


def test_selectors_in_payload_members_however_deep_send_what_they_select():
    """Request Body Object, `payload` ("can contain Runtime Expressions or Selector Objects which
    MUST be evaluated prior to calling the referenced operation"), at any depth, in objects and
    arrays; a member whose singular selector selects nothing is left out."""
    execution = execute(SELECTORS, {"GET /orders": listed(), "POST /orders/{orderId}/notes": Reply(201, {})}, REQUEST_INPUTS, "request-values")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.server.calls[1].body == {
        "text": "reviewed",
        "about": {"first": "o-1", "open": ["o-1", "o-3"], "lines": [{"sku": ["A", "B"]}]},
    }


STOCK = {"newQuantity": 9, "owners": [{"name": "ann", "main": False}, {"name": "bob", "main": True}], "comment": "restocked"}


def test_a_jsonpath_replacement_target_sets_every_node_it_selects():
    """Payload Replacement Object, `targetSelectorType` jsonpath (the specification's example
    `$.items[?(@.sku=='ABC123')].quantity` with a Selector Object value `$.newQuantity`); a
    target that selects no node changes nothing; a singular JSONPath target sets its node."""
    execution = execute(SELECTORS, {"PUT /inventory": Reply(200, {})}, {"stock": STOCK}, "replacements")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    body = execution.server.calls[0].body
    assert body["items"] == [{"sku": "ABC123", "quantity": 9}, {"sku": "XYZ", "quantity": 2}, {"sku": "ABC123", "quantity": 9}]
    assert body["note"] == "restocked"


def test_a_replacement_value_that_is_a_selector_is_what_it_selects():
    """Payload Replacement Object, `value` ("a constant, a Runtime Expression, or Selector
    Objects to be evaluated"): a filter applied by the function (an array), and a singular
    query on an input written by the compiler into the payload as a path."""
    by_function = execute(SELECTORS, {"PUT /inventory": Reply(200, {})}, {"stock": STOCK}, "replacements")
    by_path = execute(SELECTORS, {"PUT /inventory": Reply(200, {})}, {"stock": {"names": ["ann", "bob"]}}, "static-replacement")

    assert by_function.result.status == "SUCCEEDED", by_function.result.cause
    assert by_function.server.calls[0].body["owner"] == ["bob"]
    assert by_path.result.status == "SUCCEEDED", by_path.result.cause
    assert by_path.server.calls[0].body == {"owner": "ann", "count": 0}
    assert "selections" not in by_path.asl["States"]["store"]["Parameters"]["Payload"]["request"]


def test_a_selector_gives_a_called_workflow_its_input():
    """Parameter Object, `value` ("a Selector Object to be evaluated and passed to the
    referenced operation or workflow"): in a step that calls a workflow, a fixed path."""
    execution = execute(SELECTORS, {"GET /orders": listed()}, {"wrapper": {"filter": {"status": "open"}}}, "call-with-selector")

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.server.calls[0].query == {"status": ["open"]}


def test_a_fixed_path_that_selects_nothing_in_the_state_data_fails_the_execution():
    """Selector Object, `selector`, on a context in the state data: a pointer is a path, and a
    path to a member that is not there fails as `$inputs.filter#/status` does, before anything
    is sent."""
    execution = execute(SELECTORS, {"GET /orders": listed()}, {"filter": {}}, "nothing-in-state")

    assert execution.result.status == "FAILED"
    assert execution.result.error == "States.Runtime"
    assert execution.requests == []


def test_a_context_that_is_not_structured_data_in_a_request_is_refused_before_sending():
    """Selector Object, `context`: "MUST evaluate to structured data"; a string is refused by
    the function, naming the selection, and nothing is sent."""
    execution = execute(SELECTORS, {"GET /orders": listed()}, {"name": "x"}, "unstructured-request")

    message = lambda_error(execution, "InvalidRequest")
    assert "request.selections" in message and "/query/status" in message and "not structured data" in message
    assert execution.requests == []


@pytest.mark.parametrize(("workflow_id", "at", "says"), [
    ("xpath-output", "/workflows/0/steps/0/outputs/invoice/type", "xpath"),
    ("xpath-target", "/workflows/1/steps/0/requestBody/replacements/0/targetSelectorType", "xpath"),
    ("query-in-workflow-outputs", "/workflows/2/outputs/openIds", "no function runs there"),
    ("goessner-script", "/workflows/3/steps/0/outputs/last", "script expressions are not"),
])
def test_what_no_evaluator_here_does_faithfully_is_refused_where_it_is(workflow_id, at, says):
    """Selector Object, `type` (xpath: "MUST conform to XML Path Language 3.1"); Expression
    Type Object ("implementations MUST apply the semantics defined in that version's
    specification"): there is no XPath 3.1 evaluator, Goessner's script expressions are
    JavaScript, and a workflow's outputs have no function to run a query."""
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(REFUSED, workflow_id)
    assert "not supported" in caught.value.message and says in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == at


def test_the_documents_are_valid_arazzo_1_1():
    """Refused as not supported, never as invalid."""
    assert document_problems(load_document(SELECTORS)) == []
    assert document_problems(load_document(REFUSED)) == []


def test_a_selector_that_is_not_of_its_type_is_invalid_where_it_is():
    """Selector Object, `type`: "If `jsonpath`, then the expression MUST conform to JSONPath
    (RFC 9535)"; a JSON Pointer must be one (RFC 6901); Payload Replacement Object,
    `targetSelectorType` jsonpath: the `target` "MUST conform to JSONPath". A selector whose
    context is an output that is its own value, round a cycle, has none (Step Object, `outputs`)."""
    problems = document_problems(load_document(INVALID))

    assert [(type(problem), problem.location.pointer if problem.location else None) for problem in problems] == [
        (ExpressionError, "/workflows/0/steps/0/outputs/bad/selector"),
        (ExpressionError, "/workflows/0/steps/0/outputs/badPointer/selector"),
        (ExpressionError, "/workflows/0/steps/1/requestBody/replacements/0/target"),
        (ExpressionError, "/workflows/1/steps/0/outputs/a"),
        (ExpressionError, "/workflows/1/steps/0/outputs/b"),
    ]
