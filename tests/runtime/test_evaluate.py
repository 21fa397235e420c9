"""Criteria evaluated on a response: simple conditions (case-insensitive strings), regex,
the two jsonpath forms, and the errors that name the criterion at fault."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from arazzo_runtime.evaluate import CriterionError, Response, compare, compile_criteria, evaluate_criteria
from arazzo_runtime.nodes import MISSING

BODY = {
    "status": "Available",
    "name": "T-Rex",
    "price": 12,
    "ratio": 0.5,
    "flag": True,
    "yes": "yes",
    "nothing": None,
    "tags": ["big", "green"],
    "owner": {"id": 7, "first name": "Ada"},
    "a/b": "slash",
    "items": [{"name": "bone", "price": 5}, {"name": "ball", "price": 12}, {"name": "rope", "price": 30}],
}
RESPONSE = Response(200, {"content-type": "application/json", "x-request-id": "req-42", "retry-after": "30"}, BODY)
VALUES = {"v0": {"expression": "$inputs.max", "value": 10}, "v1": {"expression": "$steps.find.outputs.name", "value": "t-rex"}}


def simple(condition: str, response: Response = RESPONSE, values=VALUES, context=None) -> bool:
    return evaluate_criteria({"c": {"type": "simple", "condition": condition, "context": context}}, values, response)["c"]


def regex(pattern: str, context: str, response: Response = RESPONSE) -> bool:
    return evaluate_criteria({"c": {"type": "regex", "condition": pattern, "context": context}}, VALUES, response)["c"]


def jsonpath(condition: str, context_value=BODY, values=VALUES) -> bool:
    response = Response(200, {"content-type": "application/json"}, context_value)
    return evaluate_criteria({"c": {"type": "jsonpath", "condition": condition, "context": "$response.body"}}, values, response)["c"]


# ---------------------------------------------------------------- simple


@pytest.mark.parametrize(
    "condition",
    [
        "$statusCode == 200",
        "$statusCode == 200.0",
        "$statusCode >= 200 && $statusCode < 300",
        "$response.body#/status == 'available'",
        "$response.body#/status == 'AVAILABLE'",
        "$response.body#/status != 'sold'",
        "'apple' < 'Banana'",
        "'Straße' == 'STRASSE'",
        "$response.body#/name == $steps.find.outputs.name",
        "$response.body#/price > $inputs.max",
        "$response.body#/ratio < 1",
        "$response.body#/owner/id == 7",
        "$response.body#/a~1b == 'SLASH'",
        "$response.body#/items/1/name == 'ball'",
        "$response.body#/tags == $response.body#/tags",
        "$response.header.X-Request-Id == 'REQ-42'",
        "$response.header.content-type == 'application/json'",
        "$response.body#/flag",
        "$response.body#/flag == true",
        "!($statusCode == 404)",
        "!$statusCode == 404",
        "$statusCode == 404 || $statusCode == 200 && $response.body#/flag",
        "($statusCode == 404 || $statusCode == 200) && $response.body#/flag",
        "$response.body#/nothing == null",
        "null <= null",
        "true >= true",
        "true",
    ],
)
def test_simple_conditions_that_hold(condition):
    assert simple(condition) is True


@pytest.mark.parametrize(
    "condition",
    [
        "$statusCode == 404",
        "$response.body#/status != 'AVAILABLE'",
        "'Banana' < 'apple'",
        "$response.body#/price < $inputs.max",
        "$response.body#/yes",  # a bare operand holds only when it is the boolean true
        "$response.body#/price",
        "$response.body#/nothing",
        "!$response.body#/flag",
        "($statusCode == 404 || $statusCode == 200) && !$response.body#/flag",
        "true < true",
        "null < null",
        "false",
    ],
)
def test_simple_conditions_that_do_not_hold(condition):
    assert simple(condition) is False


def test_values_of_different_types_are_never_equal_nor_ordered():
    assert simple("$statusCode == '200'") is False
    assert simple("$statusCode != '200'") is True
    assert simple("$statusCode < '300'") is False
    assert simple("$statusCode >= '200'") is False
    assert simple("$response.body#/flag == 1") is False  # a boolean is not a number
    assert simple("$response.body#/nothing == 0") is False
    assert simple("$response.body#/nothing == ''") is False
    assert simple("$response.body#/tags == 'big'") is False


def test_missing_is_not_null():
    assert simple("$response.body#/absent == null") is False
    assert simple("$response.body#/absent != null") is True
    assert simple("$response.body#/nothing == null") is True
    assert simple("$response.body#/nothing != null") is False


def test_anything_compared_with_missing():
    for missing in ("$response.body#/absent", "$response.body#/items/3", "$response.body#/items/01", "$response.body#/name/first", "$response.header.x-absent"):
        assert simple(f"{missing} == {missing}") is False
        assert simple(f"{missing} != 1") is True
        assert simple(f"{missing} < 1") is False
        assert simple(f"{missing} >= 1") is False
        assert simple(f"{missing} <= {missing}") is False
        assert simple(missing) is False


def test_a_value_without_a_value_is_missing():
    values = {"v0": {"expression": "$inputs.limit"}}
    assert simple("$inputs.limit == null", values=values) is False
    assert simple("$inputs.limit != null", values=values) is True


def test_the_whole_body_and_a_text_body():
    text = Response(200, {"content-type": "text/plain"}, "OK")
    assert simple("$response.body == 'ok'", response=text) is True
    assert simple("$response.body#/x == 'ok'", response=text) is False
    empty = Response(204, {}, None)
    assert simple("$response.body == null", response=empty) is True


def test_the_context_does_not_change_a_simple_condition():
    assert simple("$statusCode == 200", context="$response.body") is True
    # It is not even resolved.
    assert simple("$statusCode == 200", context="$inputs.unknown") is True


def test_an_unknown_expression_is_named():
    with pytest.raises(CriterionError, match=r"criterion c: \$inputs\.nope has no value here"):
        simple("$inputs.nope == 1")
    with pytest.raises(CriterionError, match=r"criterion c: \$response\.query\.page has no value here"):
        simple("$response.query.page == 1")
    with pytest.raises(CriterionError, match=r"criterion c: .*'\$whatever' is not a runtime expression: expected \$url"):
        simple("$whatever == 1")


def test_a_condition_that_does_not_parse_is_named():
    with pytest.raises(CriterionError, match="criterion c: condition"):
        simple("$statusCode == ")


def test_compare_directly():
    assert compare("Ab", "==", "aB", case_insensitive=True) is True
    assert compare("Ab", "==", "aB", case_insensitive=False) is False
    assert compare(1, "==", 1.0, case_insensitive=False) is True
    assert compare(True, "==", 1, case_insensitive=False) is False
    assert compare({"a": ["X"]}, "==", {"a": ["x"]}, case_insensitive=True) is True
    assert compare({"a": ["X"]}, "==", {"a": ["x"]}, case_insensitive=False) is False
    assert compare([1], "<", [2], case_insensitive=False) is False
    assert compare(MISSING, "==", MISSING, case_insensitive=False) is False
    assert compare(MISSING, "!=", None, case_insensitive=False) is True


# ---------------------------------------------------------------- regex


def test_regex_on_the_status_code():
    assert regex(r"^2\d\d$", "$statusCode") is True
    assert regex(r"^4\d\d$", "$statusCode") is False
    assert regex(r"^2\d\d$", "$statusCode", Response(201, {}, None)) is True


def test_regex_on_a_header_matched_case_insensitively_by_name():
    assert regex(r"^req-\d+$", "$response.header.X-REQUEST-ID") is True
    assert regex(r"^application/json", "$response.header.Content-Type") is True


def test_regex_searches_and_anchors_decide():
    assert regex("Rex", "$response.body#/name") is True
    assert regex("^Rex", "$response.body#/name") is False
    assert regex("^T-Rex$", "$response.body#/name") is True
    assert regex("rex", "$response.body#/name") is False  # the pattern decides about case
    assert regex("(?i)rex", "$response.body#/name") is True


def test_regex_on_other_values():
    assert regex(r"^12$", "$response.body#/price") is True
    assert regex(r"^0\.5$", "$response.body#/ratio") is True
    assert regex(r"^true$", "$response.body#/flag") is True
    assert regex(r'^\["big","green"\]$', "$response.body#/tags") is True
    assert regex(r"10", "$inputs.max") is True


def test_regex_on_missing_or_null_is_false():
    assert regex(".*", "$response.body#/absent") is False
    assert regex(".*", "$response.body#/nothing") is False
    assert regex(".*", "$response.header.x-absent") is False


def test_a_bad_regex_is_named():
    with pytest.raises(CriterionError, match="criterion c: invalid regular expression"):
        regex("^(2", "$statusCode")


def test_regex_needs_a_context():
    with pytest.raises(CriterionError, match="criterion c: a regex criterion needs a context"):
        evaluate_criteria({"c": {"type": "regex", "condition": "^2"}}, {}, RESPONSE)


# ---------------------------------------------------------------- jsonpath: the comparison form


def test_the_seeds_comparison_form():
    condition = "$.status == 'running' || $.status == 'pending' || $.status == 'incomplete'"
    assert jsonpath(condition, {"status": "pending"}) is True
    assert jsonpath(condition, {"status": "succeeded"}) is False
    assert jsonpath(condition, {"jobId": 1}) is False


def test_the_comparison_form_is_case_sensitive():
    assert jsonpath("$.status == 'Available'") is True
    assert jsonpath("$.status == 'available'") is False
    assert jsonpath("$.status != 'available'") is True
    assert jsonpath("'a' < 'B'", {}) is False  # code point order: 'B' < 'a'


def test_the_comparison_form_member_paths():
    assert jsonpath("$.owner.id == 7") is True
    assert jsonpath("$['owner']['first name'] == 'Ada'") is True
    assert jsonpath("$.items[0].name == 'bone'") is True
    assert jsonpath("$.items[-1].price > 20") is True
    assert jsonpath("$.tags[5] == null") is False  # missing, not null
    assert jsonpath("$.nothing == null") is True
    assert jsonpath("$.absent != 'x'") is True
    assert jsonpath("$.flag && $.price >= 12") is True
    assert jsonpath("!$.flag") is False
    assert jsonpath("$ == 'OK'", "OK") is True
    assert jsonpath("$.price == '12'") is False


def test_the_comparison_form_with_runtime_expressions():
    assert jsonpath("$.price > $inputs.max") is True
    assert jsonpath("$.name == $steps.find.outputs.name") is False  # case-sensitive here
    with pytest.raises(CriterionError, match=r"\$inputs\.other has no value here"):
        jsonpath("$.price > $inputs.other")


def test_the_comparison_form_takes_only_singular_paths():
    with pytest.raises(CriterionError, match="must select at most one value"):
        jsonpath("$.items[*].price == 5")
    with pytest.raises(CriterionError, match="must select at most one value"):
        jsonpath("$..price == 5")
    with pytest.raises(CriterionError, match="only be used inside a filter"):
        jsonpath("@.price == 5")


# ---------------------------------------------------------------- jsonpath: RFC 9535 queries


def test_a_filter_on_an_object_context_tests_the_object():
    assert jsonpath("$[?@.status == 'Available']") is True
    assert jsonpath("$[?@.status == 'available']") is False  # RFC 9535 strings are case-sensitive
    assert jsonpath("$[?@.status == 'sold' || @.price > 10]") is True
    assert jsonpath("$[?@.owner.id == 7 && @.flag == true]") is True
    assert jsonpath("$[?@.status == 'running']", {"status": "running"}) is True
    assert jsonpath("$[?@.status == 'running']", {"status": "failed"}) is False


def test_a_filter_on_an_array_context_tests_its_items():
    jobs = [{"status": "failed"}, {"status": "running"}]
    assert jsonpath("$[?@.status == 'running']", jobs) is True
    assert jsonpath("$[?@.status == 'pending']", jobs) is False
    # Not wrapped: the array itself has no status.
    assert jsonpath("$[?@.length == 2]", jobs) is False


def test_a_filter_on_a_scalar_context_tests_the_scalar():
    assert jsonpath("$[?@ > 3]", 5) is True
    assert jsonpath("$[?@ == 'OK']", "OK") is True
    assert jsonpath("$[?@ == 'OK']", "KO") is False


def test_a_query_that_does_not_start_with_a_filter_sees_the_context_as_it_is():
    assert jsonpath("$.items[?@.price > 20]") is True
    assert jsonpath("$.items[?@.price > 100]") is False
    assert jsonpath("$.owner[?@ == 7]") is True  # a filter on an object's member values


def test_values_are_substituted_into_the_query():
    assert jsonpath("$.items[?@.price > $inputs.max]") is True
    assert jsonpath("$.items[?@.price > $inputs.max]", values={"v0": {"expression": "$inputs.max", "value": 50}}) is False
    assert jsonpath("$[?@.name == $steps.find.outputs.name]") is False
    values = {"v1": {"expression": "$steps.find.outputs.name", "value": "T-Rex"}}
    assert jsonpath("$[?@.name == $steps.find.outputs.name]", values=values) is True
    values = {"v": {"expression": "$inputs.q", "value": "it's \"quoted\"\n"}}
    assert jsonpath("$[?@.q == $inputs.q]", {"q": "it's \"quoted\"\n"}, values) is True


def test_the_longest_listed_expression_wins_and_must_end_there():
    values = {"a": {"expression": "$inputs.max", "value": 10}, "b": {"expression": "$inputs.maxPrice", "value": 100}}
    assert jsonpath("$.items[?@.price > $inputs.maxPrice]", values=values) is False
    assert jsonpath("$.items[?@.price > $inputs.max]", values=values) is True
    with pytest.raises(CriterionError, match=r"\$inputs\.maxi has no value here"):
        jsonpath("$.items[?@.price > $inputs.maxi]", values=values)


def test_nothing_is_substituted_inside_string_literals():
    assert jsonpath("$[?@.label == '$inputs.max']", {"label": "$inputs.max"}) is True
    assert jsonpath('$[?@.label == "$inputs.max \\" $inputs.max"]', {"label": '$inputs.max " $inputs.max'}) is True


def test_only_scalars_with_a_value_can_be_substituted():
    with pytest.raises(CriterionError, match="only strings, numbers, booleans and null"):
        jsonpath("$[?@.tags == $inputs.tags]", values={"v": {"expression": "$inputs.tags", "value": ["a"]}})
    with pytest.raises(CriterionError, match=r"\$inputs\.tags has no value to put into the JSONPath query"):
        jsonpath("$[?@.tags == $inputs.tags]", values={"v": {"expression": "$inputs.tags"}})
    with pytest.raises(CriterionError, match=r"\$statusCode has no value here: inside a JSONPath query"):
        jsonpath("$[?@.code == $statusCode]")


def test_a_non_empty_node_list_holds():
    assert jsonpath("$.nothing") is True  # one node, whose value is null
    assert jsonpath("$.flag") is True
    assert jsonpath("$.absent") is False
    assert jsonpath("$.items[*]") is True
    assert jsonpath("$.items[*]", {"items": []}) is False
    assert jsonpath("$..price") is True
    assert jsonpath("$", None) is True
    assert jsonpath("$", "text") is True
    assert jsonpath("$.a", "text") is False


def test_a_missing_context_selects_nothing():
    response = Response(200, {}, {})
    results = evaluate_criteria(
        {
            "query": {"type": "jsonpath", "condition": "$", "context": "$response.body#/absent"},
            "filter": {"type": "jsonpath", "condition": "$[?@.a == 1]", "context": "$response.body#/absent"},
            "comparison": {"type": "jsonpath", "condition": "$.a == 1", "context": "$response.body#/absent"},
        },
        {},
        response,
    )
    assert results == {"query": False, "filter": False, "comparison": False}


def test_other_contexts():
    response = Response(200, {"x-count": "3"}, {"data": {"jobs": [{"status": "running"}]}})
    results = evaluate_criteria(
        {
            "pointer": {"type": "jsonpath", "condition": "$[?@.status == 'running']", "context": "$response.body#/data/jobs"},
            "values": {"type": "jsonpath", "condition": "$[?@.limit > 5]", "context": "$inputs.options"},
        },
        {"v": {"expression": "$inputs.options", "value": {"limit": 10}}},
        response,
    )
    assert results == {"pointer": True, "values": True}


def test_an_invalid_query_is_named():
    with pytest.raises(CriterionError, match="criterion c: invalid JSONPath query"):
        jsonpath("$[?@.price >> 1]")
    with pytest.raises(CriterionError, match="criterion c: invalid JSONPath query"):
        jsonpath("$.items[?@.price > 1")


def test_jsonpath_needs_a_context():
    with pytest.raises(CriterionError, match="criterion c: a jsonpath criterion needs a context"):
        evaluate_criteria({"c": {"type": "jsonpath", "condition": "$.a"}}, {}, RESPONSE)


# ---------------------------------------------------------------- the set of criteria


def test_xpath_is_refused():
    with pytest.raises(CriterionError, match="criterion c3: xpath criteria are not supported"):
        evaluate_criteria({"c3": {"type": "xpath", "condition": "/pet/name", "context": "$response.body", "version": "xpath-30"}}, {}, RESPONSE)


def test_malformed_criteria_are_named():
    with pytest.raises(CriterionError, match="criterion c: unknown criterion type 'json'"):
        evaluate_criteria({"c": {"type": "json", "condition": "$.a", "context": "$response.body"}}, {}, RESPONSE)
    with pytest.raises(CriterionError, match="criterion c: condition must be a non-empty string"):
        evaluate_criteria({"c": {"type": "simple", "condition": ""}}, {}, RESPONSE)
    with pytest.raises(CriterionError, match="criterion c: must be a JSON object"):
        evaluate_criteria({"c": "$statusCode == 200"}, {}, RESPONSE)
    with pytest.raises(CriterionError, match=re.escape("values.v must be an object with an expression string")):
        evaluate_criteria({}, {"v": {"value": 1}}, RESPONSE)


def test_every_criterion_is_evaluated_in_order():
    evaluate = {
        "c0": {"type": "simple", "condition": "$response.body#/status == 'Available'", "context": None},
        "c1": {"type": "regex", "condition": "^2\\d\\d$", "context": "$statusCode"},
        "c2": {"type": "jsonpath", "condition": "$[?@.price > $inputs.max]", "context": "$response.body"},
        "c3": {"type": "simple", "condition": "$statusCode == 404"},
    }
    results = evaluate_criteria(evaluate, VALUES, RESPONSE)
    assert results == {"c0": True, "c1": True, "c2": True, "c3": False}
    assert list(results) == ["c0", "c1", "c2", "c3"]
    assert evaluate_criteria({}, {}, RESPONSE) == {}
    assert evaluate_criteria(None, None, RESPONSE) == {}


def test_the_first_bad_criterion_is_raised():
    evaluate = {
        "good": {"type": "simple", "condition": "$statusCode == 200"},
        "bad": {"type": "regex", "condition": "(", "context": "$statusCode"},
        "worse": {"type": "xpath", "condition": "/a", "context": "$response.body"},
    }
    with pytest.raises(CriterionError, match="criterion bad:"):
        evaluate_criteria(evaluate, {}, RESPONSE)


def test_criteria_are_checked_before_there_is_a_response():
    compiled = compile_criteria({"c": {"type": "simple", "condition": "$statusCode == 200"}}, {})
    assert compiled.evaluate(RESPONSE) == {"c": True}
    assert compiled.evaluate(Response(500, {}, None)) == {"c": False}
    with pytest.raises(CriterionError, match="criterion c: xpath"):
        compile_criteria({"c": {"type": "xpath", "condition": "/a", "context": "$response.body"}}, {})


def test_python_jsonpath_is_imported_only_by_a_jsonpath_criterion():
    # Its import costs more than the rest of the runtime's, on every cold start of every step.
    code = (
        "import sys\n"
        "from arazzo_runtime.evaluate import compile_criteria\n"
        "compile_criteria({'ok': {'type': 'simple', 'condition': '$statusCode == 200'}}, {})\n"
        "assert 'jsonpath' not in sys.modules, 'imported by a simple criterion'\n"
        "compile_criteria({'a': {'context': '$response.body', 'condition': '$[?@.a == 1]', 'type': 'jsonpath'}}, {})\n"
        "assert 'jsonpath' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
