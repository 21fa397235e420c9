"""Arazzo 1.1 criteria (Criterion Object, Expression Type Object), compiled and run in moto's
Step Functions engine against a scripted server; each case cites the clause of the 1.1.0
text it checks. The documents are in tests/fixtures/documents/arazzo-1.1/criteria: the same
conditions in a 1.0.1 document keep their 1.0 reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.loader import load_document
from arazzo_sfn.testing import Reply
from arazzo_sfn.validation import document_problems
from tests.conformance.test_constructs import execute

DOCUMENTS = Path(__file__).parents[1] / "fixtures" / "documents" / "arazzo-1.1" / "criteria"
JOBS = DOCUMENTS / "jobs.arazzo.yaml"
JOBS_1_0 = DOCUMENTS / "jobs-1.0.arazzo.yaml"


def run(document: Path, workflow: str, job: Any, inputs: dict[str, Any] | None = None, settings: Any = None) -> tuple[str, list[Any]]:
    """The workflow's final status and the reports it posted, the job read answering `job`."""
    routes = {"GET /job": [Reply(200, job)], "GET /settings": [Reply(200, settings or {})], "POST /reports": [Reply(201, {"id": "r-1"})]}
    execution = execute(document, routes, inputs, workflow)
    result = execution.result
    assert result.status in ("SUCCEEDED", "FAILED"), (result.error, result.cause)
    if result.status == "FAILED":
        assert result.error == "StepFailed", (result.error, result.cause)
    return result.status, [call.body["kind"] for call in execution.server.calls if call.line == "POST /reports"]


def status(document: Path, workflow: str, job: Any, **kwargs: Any) -> str:
    return run(document, workflow, job, **kwargs)[0]


@pytest.mark.parametrize(("job", "expected"), [({"items": [{"id": 1}]}, "SUCCEEDED"), ({"items": []}, "FAILED"), ({}, "FAILED")])
def test_an_rfc9535_query_passes_on_a_non_empty_nodelist(job, expected):
    """Criterion Object, JSONPath Conditions: "A condition passes (truthy) when the JSONPath
    expression returns a non-empty nodelist ... fails (falsy) when [it] returns an empty
    nodelist"; Expression Type Object: `version: rfc9535`."""
    assert status(JOBS, "query", job) == expected


@pytest.mark.parametrize(
    ("job", "expected"),
    [({"job": {"status": "done"}}, "SUCCEEDED"), ({"status": "done"}, "FAILED"), ({"job": {"status": "running"}}, "FAILED")],
    ids=["a member value matches", "the object's own member is not a child", "no member value matches"],
)
def test_a_filter_on_an_object_context_tests_its_member_values(job, expected):
    """Criterion Object, JSONPath Conditions: the condition is an RFC 9535 query; Expression
    Type Object: "implementations MUST apply the semantics defined in that version's
    specification" (RFC 9535 2.3.5: a filter selects the children of an object, its member
    values). A string `type: jsonpath` is the default version, rfc9535."""
    assert status(JOBS, "filter-on-object", job) == expected


@pytest.mark.parametrize(("job", "expected"), [({"status": "done"}, "SUCCEEDED"), ({"status": "running"}, "FAILED")])
def test_a_filter_that_reads_the_root_tests_the_context_objects_own_member(job, expected):
    """Criterion Object, JSONPath Conditions: `$[?$.status == 'done']` is the RFC 9535 query
    that tests the context object's own member (what a 1.0 comparison said)."""
    assert status(JOBS, "own-member", job) == expected


@pytest.mark.parametrize(("job", "expected"), [({"result": None}, "FAILED"), ({}, "FAILED"), ({"result": {}}, "SUCCEEDED")], ids=["null", "absent", "an object"])
def test_a_null_or_absent_context_fails(job, expected):
    """Criterion Object, JSONPath Conditions: "If the `context` evaluates to `null` or
    `undefined` ... the condition MUST evaluate to fail" (even for the query `$`)."""
    assert status(JOBS, "null-context", job) == expected


def test_an_invalid_query_and_a_comparison_are_refused_as_invalid_at_the_condition():
    """Criterion Object, JSONPath Conditions: "the `condition` MUST be a valid JSONPath
    expression conforming to RFC 9535"; a comparison is not one (RFC 9535 allows it only in a
    filter): refused as invalid, with the filter form suggested. Expression Type Object: a
    jsonpointer condition is an RFC 6901 pointer. An expression embedded in a condition names
    what exists (Runtime Expressions in Conditions)."""
    problems = document_problems(load_document(DOCUMENTS / "invalid.arazzo.yaml"))
    at = {problem.location.pointer: problem.message for problem in problems if problem.location is not None}
    assert set(at) == {f"/workflows/0/steps/0/successCriteria/{index}/condition" for index in range(4)}
    assert "is not a valid JSONPath query (rfc9535)" in at["/workflows/0/steps/0/successCriteria/0/condition"]
    comparison = at["/workflows/0/steps/0/successCriteria/1/condition"]
    assert "`$.status == 'done'` is not an RFC 9535 JSONPath query" in comparison
    assert "write the filter form `$[?@.status == 'done']`" in comparison
    assert "JSON pointer" in at["/workflows/0/steps/0/successCriteria/2/condition"]
    assert "the workflow has no input 'patern'" in at["/workflows/0/steps/0/successCriteria/3/condition"]


@pytest.mark.parametrize(("job", "expected"), [({"items": [{"status": "running"}, {"status": "done"}]}, "SUCCEEDED"), ({"items": [{"status": "running"}]}, "FAILED")])
def test_a_goessner_query_is_read_with_its_filters(job, expected):
    """Expression Type Object: `version: draft-goessner-dispatch-jsonpath-00`, "implementations
    MUST apply the semantics defined in that version's specification": its `?(...)` filter."""
    assert status(JOBS, "goessner", job) == expected


@pytest.mark.parametrize(("workflow", "index"), [("goessner-script", 1), ("goessner-script-embedded", 2)])
def test_a_goessner_script_expression_is_refused_at_the_condition(workflow, index):
    """Expression Type Object: a Goessner script expression `(...)` is JavaScript that only the
    draft's own implementation evaluates: refused, located, rather than read some other way,
    with or without an expression embedded in it."""
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(DOCUMENTS / "refused.arazzo.yaml", workflow)
    assert "script expression" in caught.value.message and "draft-goessner-dispatch-jsonpath-00" in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == f"/workflows/{index}/steps/0/successCriteria/0/condition"


@pytest.mark.parametrize(("job", "expected"), [({"result": {"id": None}}, "SUCCEEDED"), ({"result": {"id": 3}}, "SUCCEEDED"), ({"result": {}}, "FAILED")])
def test_a_jsonpointer_condition_passes_when_it_resolves(job, expected):
    """Expression Type Object: `type: jsonpointer`, `version: rfc6901`. The text gives the
    criterion no meaning; this project's reading: the condition is a JSON Pointer into the
    context value, and it passes when it resolves to a value (null included)."""
    assert status(JOBS, "pointer", job) == expected


@pytest.mark.parametrize(("expected_status", "expected"), [("done", "SUCCEEDED"), ("failed", "FAILED")])
def test_an_input_embedded_in_a_jsonpath_condition_is_substituted_first(expected_status, expected):
    """Criterion Object, Runtime Expressions in Conditions: "runtime expressions MUST be
    embedded within the `condition` string using `{}` curly braces. The runtime expressions
    are evaluated first, then substituted into the condition string"."""
    job = {"items": [{"status": "running"}, {"status": "done"}]}
    assert status(JOBS, "embedded-input", job, inputs={"expectedStatus": expected_status}) == expected


@pytest.mark.parametrize(
    ("pattern", "prefix", "expected"),
    [("done|running", "job", "SUCCEEDED"), ("failed", "job", "FAILED"), ("done", "task", "FAILED")],
    ids=["both hold", "the input's pattern does not match", "the earlier step's output does not match"],
)
def test_an_input_and_an_earlier_steps_output_embedded_in_regex_conditions(pattern, prefix, expected):
    """Criterion Object, Runtime Expressions in Conditions (`'^({$inputs.statusPattern})$'`,
    type regex), with an earlier step's output embedded the same way; Multiple Criteria: all
    must pass."""
    job = {"status": "done", "id": "job-7"}
    assert status(JOBS, "embedded-regex", job, inputs={"statusPattern": pattern}, settings={"prefix": prefix}) == expected


@pytest.mark.parametrize(("query", "expected"), [('{"size":2,"status":"done"}', "SUCCEEDED"), ('{"size": 2, "status": "done"}', "FAILED")])
def test_an_embedded_object_is_serialized_as_json(query, expected):
    """Runtime Expressions: an embedded parsed structure "MUST be serialized as JSON per RFC
    8259" (compact, members in their order, in this project); Criterion Object, Runtime
    Expressions in Conditions: "type conversion follows the rules defined in Runtime
    Expressions"."""
    inputs = {"filter": {"size": 2, "status": "done"}}
    assert status(JOBS, "embedded-object", {"query": query}, inputs=inputs) == expected


@pytest.mark.parametrize(
    ("job", "expected"),
    [({"count": "3", "data": 1}, "SUCCEEDED"), ({"count": "2", "data": 1}, "FAILED"), ({"count": 3}, "FAILED"), ({"count": 3, "data": None}, "FAILED")],
    ids=["a numeric string is coerced", "coerced and compared", "absent is null", "null"],
)
def test_simple_conditions_coerce_numeric_strings_and_read_absent_as_null(job, expected):
    """Criterion Object, Simple Conditions: "Numeric strings SHOULD be coerced to numbers when
    compared with numeric operators"; "`null` only equals itself"; the example
    `$response.body.data != null` passes only when the body contains data."""
    assert status(JOBS, "simple", job) == expected


@pytest.mark.parametrize(("job", "expected"), [({"data": 0}, "SUCCEEDED"), ({"data": None}, "FAILED"), ({}, "FAILED")], ids=["a value", "null", "absent"])
def test_a_comparison_with_null_is_a_choice_rule_that_reads_absent_as_null(job, expected):
    """Criterion Object, Simple Conditions: "`null` only equals itself"; the example
    `$response.body.data != null` fails when the body has no data. ASL says it: a Choice rule."""
    assert "evaluate" not in json.dumps(compile_document(JOBS, "has-data"))
    assert status(JOBS, "has-data", job) == expected


@pytest.mark.parametrize(
    ("job", "reports", "expected"),
    [
        ({"status": "done", "items": [{"size": 12}]}, ["archive"], "SUCCEEDED"),
        ({"status": "done", "items": [{"size": 2}]}, ["done"], "SUCCEEDED"),
    ],
    ids=["the success action's query selects", "it selects nothing"],
)
def test_success_action_criteria_are_read_the_1_1_way(job, reports, expected):
    """Success Action Object `criteria`, read as Criterion Object, JSONPath Conditions says."""
    assert run(JOBS, "actions", job) == (expected, reports)


@pytest.mark.parametrize(("reply", "reports", "expected"), [({"status": "failed"}, ["failure"], "SUCCEEDED"), ({"status": "lost"}, [], "FAILED")])
def test_failure_action_criteria_are_read_the_1_1_way(reply, reports, expected):
    """Failure Action Object `criteria`, read as Criterion Object, Regex Conditions says."""
    execution = execute(JOBS, {"GET /job": [Reply(500, reply)], "POST /reports": [Reply(201, {"id": "r-1"})]}, {}, "actions")
    assert execution.result.status == expected, (execution.result.error, execution.result.cause)
    assert [call.body["kind"] for call in execution.server.calls if call.line == "POST /reports"] == reports


def test_xpath_is_refused_at_the_criterions_type():
    """Criterion Object, XPath Conditions: an XPath 3.1 evaluator is needed; refused, located."""
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(DOCUMENTS / "refused.arazzo.yaml", "xpath")
    assert caught.value.message == "xpath criteria need an XPath 3.1 evaluator, which is not supported"
    assert caught.value.location is not None and caught.value.location.pointer == "/workflows/0/steps/0/successCriteria/0/type"
    assert caught.value.location.line is not None


@pytest.mark.parametrize(("workflow", "job", "in_1_0", "in_1_1"), [
    ("filter-on-object", {"status": "done"}, "SUCCEEDED", "FAILED"),
    ("simple", {"count": "3", "data": 1}, "FAILED", "SUCCEEDED"),
])
def test_a_1_0_document_keeps_the_1_0_reading(workflow, job, in_1_0, in_1_1):
    """The same condition in a 1.0.1 document keeps 1.0's reading (a leading filter on an
    object context tests the object; a numeric string is not a number), and 1.1's in a 1.1
    document."""
    assert status(JOBS_1_0, workflow, job) == in_1_0
    assert status(JOBS, workflow, job) == in_1_1


def test_a_1_0_document_keeps_the_comparison_form():
    """Arazzo 1.0.1 documents write jsonpath comparisons outside a filter; they keep working."""
    assert status(JOBS_1_0, "comparison", {"status": "done"}) == "SUCCEEDED"
    assert status(JOBS_1_0, "comparison", {"status": "running"}) == "FAILED"


def test_a_1_1_criterion_is_sent_with_its_reading_and_a_1_0_one_without():
    """The payload says which reading a criterion gets (docs/contract.md, `arazzo`)."""
    for document, expected in ((JOBS, "1.1"), (JOBS_1_0, None)):
        definition = json.dumps(compile_document(document, "filter-on-object"))
        assert ('"arazzo": "1.1"' in definition) == (expected == "1.1")


@pytest.mark.parametrize(("expected_status", "expected"), [("done", "SUCCEEDED"), ("lost", "FAILED")])
def test_a_criterion_over_a_child_executions_outputs_is_read_the_1_1_way(expected_status, expected):
    """Criterion Object, JSONPath Conditions and Runtime Expressions in Conditions, on a step
    that runs a workflow (its `$outputs`): the step's function judges it after the child ends."""
    execution = execute(JOBS, {"GET /job": [Reply(200, {"items": [{"status": "done"}]})]}, {"expectedStatus": expected_status}, "child")
    assert execution.result.status == expected, (execution.result.error, execution.result.cause)
    assert execution.tasks[:2] == ["run", "run.Criteria"]
