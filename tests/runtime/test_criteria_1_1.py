"""Criteria read as Arazzo 1.1 reads them (`arazzo: "1.1"` in the payload's criterion):
arazzo_runtime.criteria_1_1, through the evaluator the step functions call."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from arazzo_runtime import criteria_1_1, jsonpath_versions
from arazzo_runtime.evaluate import CriterionError, Response, compile_criteria, evaluate_criteria
from arazzo_runtime.expressions import embedded_text
from arazzo_runtime.payload import PAYLOAD_VERSION, parse_payload

BODY = {"status": "done", "count": "3", "job": {"status": "done", "size": 12}, "items": [{"id": 1, "status": "done"}, {"id": 2, "status": "running"}], "nothing": None}
VALUES = {
    "v0": {"expression": "$inputs.expected", "value": "done"},
    "v1": {"expression": "$inputs.filter", "value": {"size": 2, "tags": ["a", None, True]}},
    "v2": {"expression": "$inputs.missing"},
    "v3": {"expression": "$inputs.number", "value": 1.5},
    "v4": {"expression": "$inputs.broken", "value": "[?"},
}


def judge(kind: str, condition: str, context: str | None = "$response.body", body: Any = BODY, version: str | None = None, values: Any = VALUES) -> bool:
    criterion: dict[str, Any] = {"type": kind, "condition": condition, "context": context, "arazzo": "1.1"}
    if version is not None:
        criterion["version"] = version
    return evaluate_criteria({"c": criterion}, values, Response(200, {"x-count": "3"}, body))["c"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("$.items[*]", True),
        ("$.nowhere[*]", False),
        ("$.items[?@.status == 'done']", True),
        ("$.items[?@.status == 'lost']", False),
        ("$[?@.status == 'done']", True),  # the member value `job` has a status
        ("$[?@.size > 100]", False),
        ("$[?$.status == 'done']", True),  # the root's own member
        ("$.nothing", True),  # a node whose value is null is a node
    ],
)
def test_an_rfc9535_query_passes_on_a_non_empty_nodelist(condition, expected):
    assert judge("jsonpath", condition) is expected


def test_a_filter_on_an_object_is_not_applied_to_the_object_itself():
    # RFC 9535: the children of {"status": "done"} are its member values, "done" has no status.
    assert judge("jsonpath", "$[?@.status == 'done']", body={"status": "done"}) is False
    # The 1.0 reading (no `arazzo`) wraps the object so that the filter tests it.
    criterion = {"type": "jsonpath", "condition": "$[?@.status == 'done']", "context": "$response.body"}
    assert evaluate_criteria({"c": criterion}, None, Response(200, {}, {"status": "done"}))["c"] is True


@pytest.mark.parametrize("body", [{"result": None}, {"other": 1}], ids=["null", "absent"])
def test_a_null_or_absent_context_fails_even_for_the_root_query(body):
    assert judge("jsonpath", "$", context="$response.body#/result", body=body) is False
    assert judge("regex", ".*", context="$response.body#/result", body=body) is False
    assert judge("jsonpointer", "/a", context="$response.body#/result", body=body) is False


def test_a_string_context_is_a_leaf():
    assert judge("jsonpath", "$", context="$response.body#/status") is True
    assert judge("jsonpath", "$[0]", context="$response.body#/status") is False


@pytest.mark.parametrize(
    ("condition", "expected"),
    [('$.items[?(@.status == "{$inputs.expected}")]', True), ("$.items[?@.id > {$inputs.number}]", True), ("$.items[?@.id > {$response.body#/items/1/id}]", False)],
)
def test_expressions_embedded_in_a_query_are_substituted_first(condition, expected):
    assert judge("jsonpath", condition) is expected


def test_an_embedded_object_is_compact_json():
    body = {"query": '{"size":2,"tags":["a",null,true]}'}
    assert judge("jsonpath", "$[?@ == '{$inputs.filter}']", body=body) is True
    assert judge("regex", '^\\{"size":2,', context="$response.body#/query", body=body) is True


@pytest.mark.parametrize(("value", "text"), [("a b", "a b"), (1.5, "1.5"), (10, "10"), (True, "true"), (None, "null"), ([1, "x"], '[1,"x"]'), ({"a": {"b": []}}, '{"a":{"b":[]}}')])
def test_embedded_text_follows_the_runtime_expressions_rule(value, text):
    assert embedded_text(value) == text


def test_an_embedded_expression_in_a_regex():
    assert judge("regex", "^({$inputs.expected}|running)$", context="$response.body#/status") is True
    assert judge("regex", "^x{$inputs.expected}$", context="$response.body#/status") is False


@pytest.mark.parametrize(
    ("kind", "condition", "logged"),
    [
        ("jsonpath", "$.items{$inputs.broken}", "is not a valid JSONPath query"),
        ("jsonpath", "$.items[?@.id == {$inputs.missing}]", "$inputs.missing has no value"),
        ("regex", "({$inputs.broken}", "is not a valid regular expression"),
        ("jsonpath", "$.status == 'done'", "write the filter form `$[?@.status == 'done']`"),
        ("jsonpointer", "status", "JSON pointer"),
    ],
)
def test_an_evaluation_error_fails_the_criterion_and_is_logged(kind, condition, logged, caplog):
    with caplog.at_level(logging.WARNING, logger="arazzo_runtime.criteria_1_1"):
        assert judge(kind, condition) is False
    assert any(logged in record.getMessage() and "criterion c fails" in record.getMessage() for record in caplog.records), caplog.text


@pytest.mark.parametrize(("condition", "expected"), [("/job/size", True), ("/nothing", True), ("/items/1/id", True), ("/items/2", False), ("/job/owner", False), ("/items/01", False)])
def test_a_jsonpointer_passes_when_it_resolves(condition, expected):
    assert judge("jsonpointer", condition, version="rfc6901") is expected


def test_a_goessner_query_reads_its_filters():
    version = jsonpath_versions.GOESSNER
    assert judge("jsonpath", "$.items[?(@.status == 'running')]", version=version) is True
    assert judge("jsonpath", "$..id", version=version) is True
    assert judge("jsonpath", "$.items[?(@.status == 'lost')]", version=version) is False


def test_a_goessner_script_expression_is_named():
    with pytest.raises(criteria_1_1.QueryError, match="script expression"):
        criteria_1_1.compile_query("$.items[(@.length-1)]", jsonpath_versions.GOESSNER)
    assert jsonpath_versions.script_expression("$.items[?(@.a == '[(')]") is False


def test_a_comparison_names_the_filter_form():
    with pytest.raises(criteria_1_1.QueryError) as caught:
        criteria_1_1.compile_query("$.a.b == 'x' && $.c < 2")
    assert "`$[?@.a.b == 'x' && @.c < 2]`" in str(caught.value)
    assert "`$[?$.a.b == 'x' && $.c < 2]`" in str(caught.value)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("$response.body#/count == 3", True),
        ("$response.body#/count >= 3", True),
        ("$response.body#/count < 3", False),
        ("$response.header.X-Count == 3.0", True),
        ("$response.body#/count == '3'", True),
        ("$response.body#/status == 'DONE'", True),
        ("$response.body#/absent == null", True),
        ("$response.body#/absent != null", False),
        ("$response.body#/nothing == null", True),
        ("$response.body#/nothing != 0", True),
        ("$response.body#/nothing == 0", False),
        ("$response.body#/nothing < 1", False),
        ("$inputs.missing == null", True),
        ("$response.body#/status == 3", False),
    ],
)
def test_simple_conditions(condition, expected):
    assert judge("simple", condition, context=None) is expected


def test_the_1_0_reading_is_kept_without_the_field():
    criteria = {
        "coerced": {"type": "simple", "condition": "$response.body#/count == 3", "context": None},
        "absent": {"type": "simple", "condition": "$response.body#/absent != null", "context": None},
        "comparison": {"type": "jsonpath", "condition": "$.status == 'done'", "context": "$response.body"},
    }
    assert evaluate_criteria(criteria, None, Response(200, {}, BODY)) == {"coerced": False, "absent": True, "comparison": True}


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        ({"type": "xpath", "condition": "/a", "context": "$response.body", "arazzo": "1.1"}, "XPath 3.1 evaluator"),
        ({"type": "jsonpath", "condition": "$", "context": "$response.body", "version": "xpath-30", "arazzo": "1.1"}, "no version 'xpath-30'"),
        ({"type": "jsonpath", "condition": "$", "context": "$response.body", "arazzo": "2.0"}, "arazzo must be '1.1'"),
        ({"type": "jsonpointer", "condition": "/a", "context": "$response.body"}, "jsonpointer criteria are Arazzo 1.1's"),
        ({"type": "jsonpath", "condition": "{$inputs.unsent}", "context": "$response.body", "arazzo": "1.1"}, r"\$inputs.unsent has no value here"),
        ({"type": "regex", "condition": "x", "context": None, "arazzo": "1.1"}, "needs a context"),
    ],
)
def test_a_criterion_the_compiler_would_not_send_is_refused_before_the_request(criterion, message):
    with pytest.raises(CriterionError, match=message):
        compile_criteria({"c": criterion}, VALUES)


def test_the_payload_carries_the_reading():
    payload = parse_payload({
        "payloadVersion": PAYLOAD_VERSION, "step": "read", "operationId": None, "source": "jobs", "request": {"method": "GET", "path": "/job"},
        "evaluate": {"c0": {"type": "jsonpointer", "condition": "/a", "context": "$response.body", "version": "rfc6901", "arazzo": "1.1"}},
    })
    assert payload.evaluate["c0"]["arazzo"] == "1.1"


def test_a_runtime_expression_written_bare_in_a_query_is_named_with_its_braces():
    with pytest.raises(criteria_1_1.QueryError, match=r"embedded in a 1.1 condition as `\{\$inputs.max\}`"):
        criteria_1_1.compile_query("$.items[?@.price > $inputs.max]")
