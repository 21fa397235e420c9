"""Arazzo 1.1 Selector Objects in the runtime (arazzo_runtime.select): what a selector yields,
the selections of a request resolved before anything is sent, JSONPath replacement targets,
and selections of a step's outputs resolved on its answer."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arazzo_runtime import http
from arazzo_runtime.errors import InvalidRequest
from arazzo_runtime.evaluate import Response
from arazzo_runtime.http import build_request, perform, prepared_body, sent_request
from arazzo_runtime.nodes import MISSING
from arazzo_runtime.payload import PAYLOAD_VERSION, parse_payload
from arazzo_runtime.select import GOESSNER, SelectorError, apply_selections, compile_selector
from arazzo_runtime.step import step_answer
from arazzo_sfn.testing import Reply, ScriptedServer

ORDERS = {
    "orders": [
        {"id": "o-1", "status": "open", "total": 10},
        {"id": "o-2", "status": "closed", "total": 3},
        {"id": "o-3", "status": "open", "total": 7},
    ],
    "meta": {"page": {"size": 3}, "a/b": 1},
}


# ---------------------------------------------------------------- what a selector yields


@pytest.mark.parametrize(("selector", "kind", "version", "expected"), [
    ("/meta/page/size", "jsonpointer", None, 3),
    ("/meta/a~1b", "jsonpointer", "rfc6901", 1),
    ("", "jsonpointer", None, ORDERS),
    ("$.orders[0].id", "jsonpath", None, "o-1"),
    ("$.orders[-1].id", "jsonpath", "rfc9535", "o-3"),
    ("$['meta']['page']", "jsonpath", None, {"size": 3}),
    ("$.orders[?@.status == 'open'].id", "jsonpath", None, ["o-1", "o-3"]),
    ("$..total", "jsonpath", None, [10, 3, 7]),
    ("$.orders[*].status", "jsonpath", None, ["open", "closed", "open"]),
    ("$.orders[?(@.total > 5)].id", "jsonpath", GOESSNER, ["o-1", "o-3"]),
    ("$.orders[?@.status == 'void'].id", "jsonpath", None, []),
], ids=[
    "pointer", "pointer-escaped", "pointer-whole", "singular", "singular-negative-index", "singular-brackets",
    "filter", "descendants", "wildcard", "goessner-filter", "filter-no-node",
])
def test_a_selector_yields_its_node_or_the_array_of_its_nodes(selector, kind, version, expected):
    assert compile_selector(selector, kind, version).select(ORDERS) == expected


@pytest.mark.parametrize(("selector", "kind"), [("/meta/cursor", "jsonpointer"), ("$.meta.cursor", "jsonpath"), ("$.orders[7]", "jsonpath")])
def test_a_singular_selector_that_selects_nothing_yields_missing(selector, kind):
    assert compile_selector(selector, kind).select(ORDERS) is MISSING


@pytest.mark.parametrize("context", ["text", 7, None, True])
def test_a_context_that_is_not_structured_data_is_refused(context):
    with pytest.raises(SelectorError, match="not structured data"):
        compile_selector("$.a", "jsonpath").select(context)


@pytest.mark.parametrize(("selector", "kind", "version", "says"), [
    ("/a", "xpath", None, "no XPath 3.1 evaluator"),
    ("$.a", "jmespath", None, "must be one of jsonpath, jsonpointer"),
    ("$.a", "jsonpath", "rfc6901", "is not one of rfc9535"),
    ("a/b", "jsonpointer", None, "is not a JSON Pointer"),
    ("$.a[?", "jsonpath", None, "is not an RFC 9535 JSONPath query"),
    ("$.a[(@.length-1)]", "jsonpath", GOESSNER, "script expressions are not"),
    ("$.a | $.b", "jsonpath", GOESSNER, "not a single JSONPath query"),
    (7, "jsonpath", None, "must be a string"),
])
def test_a_selector_not_evaluated_faithfully_here_is_refused(selector, kind, version, says):
    with pytest.raises(SelectorError, match=says.replace("[", r"\[").replace("(", r"\(").replace("|", r"\|")):
        compile_selector(selector, kind, version)


@pytest.mark.parametrize(("selector", "kind", "tokens"), [
    ("$.a.b[0]", "jsonpath", ("a", "b", "0")),
    ("$['a b']", "jsonpath", ("a b",)),
    ("$", "jsonpath", ()),
    ("/a/0", "jsonpointer", ("a", "0")),
    ("$.a[-1]", "jsonpath", None),
    ("$..a", "jsonpath", None),
    ("$.a[?@.b]", "jsonpath", None),
    ("$.a[0,1]", "jsonpath", None),
])
def test_a_fixed_path_is_told_by_its_tokens(selector, kind, tokens):
    assert compile_selector(selector, kind).path_tokens() == tokens


# ---------------------------------------------------------------- a request's selections


def selecting(at: str, value: Any, selector: str, kind: str = "jsonpath", version: str = "rfc9535") -> dict[str, Any]:
    return {"at": at, "value": value, "selector": selector, "type": kind, "version": version}


def request_with(*selections: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": "POST", "path": "/orders", "query": {"status": None, "ids": None},
        "body": {"about": {"first": None}, "missing": None}, "omitNull": ["/about/first", "/missing"],
        "selections": list(selections),
    }


def test_a_requests_selections_put_what_they_select_where_they_stand():
    request = request_with(
        selecting("/query/status", {"status": "open"}, "/status", "jsonpointer", "rfc6901"),
        selecting("/query/ids", ORDERS, "$.orders[?@.status == 'open'].id"),
        selecting("/body/about/first", ORDERS, "$.orders[0].id"),
        selecting("/body/missing", ORDERS, "$.orders[9].id"),
    )
    given = copy.deepcopy(request)

    resolved = apply_selections(request)

    assert request == given  # a copy is resolved
    assert "selections" not in resolved
    assert resolved["query"] == {"status": "open", "ids": ["o-1", "o-3"]}
    assert resolved["body"] == {"about": {"first": "o-1"}, "missing": None}
    assert prepared_body(resolved) == (True, {"about": {"first": "o-1"}})  # nothing selected: left out
    assert build_request(request, "http://127.0.0.1:1").query == [("status", "open"), ("ids", "o-1"), ("ids", "o-3")]


@pytest.mark.parametrize(("selection", "says"), [
    (selecting("/query/status", "open", "$.a"), "not structured data"),
    (selecting("/query/nowhere/deep", ORDERS, "$.meta"), "not a place in the request"),
    (selecting("", ORDERS, "$.meta"), "not a place in the request"),
    (selecting("/query/status", ORDERS, "$.a[?"), "is not an RFC 9535 JSONPath query"),
])
def test_a_selection_that_cannot_be_applied_is_refused_before_anything_is_sent(selection, says):
    with pytest.raises(InvalidRequest, match=says) as caught:
        build_request(request_with(selection), "http://127.0.0.1:1")
    assert "request.selections" in str(caught.value) and "selection 0" in str(caught.value)


def test_a_request_sent_resolves_its_selections_once_and_reads_back_what_they_selected(monkeypatch):
    """A request not parsed through `parse_payload`: building it resolves its selections, and
    what `$request` expressions read of it is what was built, not a second resolution."""
    resolutions: list[dict[str, Any]] = []

    def counted(request):
        resolutions.append(request)
        return apply_selections(request)

    monkeypatch.setattr(http, "apply_selections", counted)
    request = {"method": "GET", "path": "/orders", "query": {"ids": None}, "selections": [selecting("/query/ids", ORDERS, "$.orders[?@.status == 'open'].id")]}
    with ScriptedServer({"GET /orders": [Reply(200, {})]}) as server:
        answer = perform(request, server.url)
    assert len(resolutions) == 1
    assert answer.request is not None and answer.request.query == {"ids": ["o-1", "o-3"]}
    assert answer.request.url.endswith("/orders?ids=o-1&ids=o-3")
    assert sent_request(build_request(request, server.url)).query == {"ids": ["o-1", "o-3"]}
    assert len(resolutions) == 2  # built once more, resolved once more


def payload_with(request: dict[str, Any], keep: dict[str, Any] | None = None, values: dict[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"payloadVersion": PAYLOAD_VERSION, "step": "list", "operationId": "listOrders", "source": "shop", "request": request}
    if keep is not None:
        payload["keep"] = keep
    if values is not None:
        payload["values"] = values
    return payload


def test_parsing_a_payload_resolves_its_selections():
    parsed = parse_payload(payload_with(request_with(selecting("/query/status", {"s": "open"}, "$.s"))))

    assert parsed.request["query"] == {"status": "open", "ids": None}
    assert "selections" not in parsed.request


@pytest.mark.parametrize(("selection", "field", "says"), [
    (selecting("/query/status", {}, "$.a[?"), "request.selections.0.selector:", "not an RFC 9535"),
    ({**selecting("/query/status", {}, "$.a"), "type": "xpath"}, "request.selections.0.selector:", "no XPath 3.1 evaluator"),
    ({"at": "/query/status", "value": {}}, "request.selections.0", "must be {at, value, selector, type, version}"),
    (selecting("query/status", {}, "$.a"), "request.selections.0.at:", "JSON pointer"),
    (selecting("/query/status", "text", "$.a"), "request.selections", "not structured data"),
])
def test_a_malformed_selection_is_refused_naming_its_field(selection, field, says):
    with pytest.raises(InvalidRequest) as caught:
        parse_payload(payload_with(request_with(selection)))
    message = str(caught.value)
    assert field in message and says in message, message


def test_an_array_is_structured_data_a_selection_may_select_nothing_in():
    parsed = parse_payload(payload_with(request_with(selecting("/query/status", [], "$[0]"))))
    assert parsed.request["query"]["status"] is None


# ---------------------------------------------------------------- JSONPath replacement targets


def test_a_jsonpath_replacement_target_sets_every_node_it_selects_in_order():
    body = {"items": [{"sku": "A", "q": 1}, {"sku": "B", "q": 2}, {"sku": "A", "q": 3}], "note": "x"}
    request = {"method": "PUT", "path": "/inventory", "body": body, "replacements": [
        {"target": "$.items[?@.sku == 'A'].q", "targetType": "jsonpath", "targetVersion": "rfc9535", "value": 9},
        {"target": "$.items[?@.sku == 'Z'].q", "targetType": "jsonpath", "value": 0},
        {"target": "/note", "value": "y"},
        {"target": "$.items[?(@.q > 8)].sku", "targetType": "jsonpath", "targetVersion": GOESSNER, "value": "AA"},
    ]}

    sent, value = prepared_body(request)

    assert sent
    assert value == {"items": [{"sku": "AA", "q": 9}, {"sku": "B", "q": 2}, {"sku": "AA", "q": 9}], "note": "y"}
    assert body["items"][0] == {"sku": "A", "q": 1}  # the request's own body is not changed


def test_a_jsonpath_target_of_the_root_replaces_the_whole_body():
    request = {"method": "PUT", "path": "/x", "body": {"a": 1}, "replacements": [{"target": "$", "targetType": "jsonpath", "value": [1]}]}
    assert prepared_body(request) == (True, [1])


def test_a_jsonpath_target_that_does_not_compile_is_refused_naming_it():
    request = {"method": "PUT", "path": "/x", "body": {}, "replacements": [{"target": "$[?", "targetType": "jsonpath", "value": 1}]}
    with pytest.raises(InvalidRequest, match=r"request\.replacements\.0\.target"):
        prepared_body(request)
    with pytest.raises(InvalidRequest, match=r"request\.replacements\.0\.target:"):
        parse_payload(payload_with(request))


# ---------------------------------------------------------------- selections in a step's outputs


def answer_to(keep: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = parse_payload(payload_with({"method": "GET", "path": "/orders"}, {"outputs": keep, "success": []}, values))
    answer = step_answer(Response(200, {"content-type": "application/json", "x-trace": "t-1"}, ORDERS), payload)
    return dict(answer.get("outputs") or {})


def selection(context: str, selector: str, kind: str = "jsonpath", version: str = "rfc9535", **more: str) -> dict[str, Any]:
    return {"context": context, "selector": selector, "type": kind, "version": version, **more}


def test_a_steps_output_selections_are_resolved_on_its_answer():
    outputs = answer_to({
        "open": selection("$response.body", "$.orders[?@.status == 'open'].id"),
        "firstOpen": selection("$response.body", "$.orders[?@.status == 'open'].id", pointer="/0"),
        "size": selection("$response.body", "/meta/page/size", "jsonpointer", "rfc6901"),
        "absent": selection("$response.body", "$.meta.cursor"),
        "header": selection("$response.header.X-Trace", "$.a"),
        "fromInput": selection("$inputs.filter", "$.tags[*]"),
    }, {"v0": {"expression": "$inputs.filter", "value": {"tags": ["a", "b"]}}})

    assert outputs == {"open": ["o-1", "o-3"], "firstOpen": "o-1", "size": 3, "absent": None, "header": None, "fromInput": ["a", "b"]}


@pytest.mark.parametrize(("entry", "field", "says"), [
    (selection("$inputs.filter", "$.a"), "keep.outputs.o.context:", "not an expression about the response"),
    (selection("$response.body", "$.a[?"), "keep.outputs.o.selector:", "not an RFC 9535"),
    ({"context": "$response.body", "selector": "$.a"}, "keep.outputs.o", "must be {context, selector, type, version[, pointer]}"),
    (selection("$response.body", "$.a", pointer="a"), "keep.outputs.o.pointer:", "JSON pointer"),
])
def test_a_malformed_output_selection_is_refused_naming_its_field(entry, field, says):
    with pytest.raises(InvalidRequest) as caught:
        parse_payload(payload_with({"method": "GET", "path": "/orders"}, {"outputs": {"o": entry}}))
    assert field in str(caught.value) and says in str(caught.value), str(caught.value)
