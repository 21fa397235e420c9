"""The runtime-expression grammar: other tools' cases decided as the Arazzo ABNF decides them, and the typed tree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from arazzo_runtime.expressions import (
    ComponentRef,
    ExpressionSyntaxError,
    InputRef,
    OutputRef,
    RequestRef,
    ResponseRef,
    StatusCode,
    StepOutputRef,
    WorkflowRef,
    parse_expression,
    parse_pointer,
    parse_template,
    scan_expression,
)

CASES = yaml.safe_load((Path(__file__).parents[1] / "fixtures" / "expressions" / "grammar-cases.yaml").read_text())


def _decide(case: dict[str, object]) -> str:
    text = str(case["expression"])
    try:
        if case["embedded"]:
            parse_template(text)
        else:
            parse_expression(text)
    except ExpressionSyntaxError:
        return "invalid"
    return "valid"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['expect']}:{c['expression']}" for c in CASES])
def test_other_tools_cases_are_decided_by_the_grammar(case):
    assert _decide(case) == case["expect"], case["from"]


def test_the_cases_cover_both_answers():
    assert {c["expect"] for c in CASES} == {"valid", "invalid"}
    assert len(CASES) >= 100


@pytest.mark.parametrize(
    ("text", "kind", "name", "step", "pointer"),
    [
        ("$statusCode", "status_code", None, None, ()),
        ("$inputs.connectionId", "inputs", "connectionId", None, ()),
        ("$inputs.filter#/a~1b/0", "inputs", "filter", None, ("a/b", "0")),
        ("$outputs.result#/jobId", "outputs", "result", None, ("jobId",)),
        ("$steps.trigger reset.outputs.jobId", "step_output", "jobId", "trigger reset", ()),
        ("$workflows.resync.outputs.job#/id", "workflow_output", "job", None, ("id",)),
        ("$workflows.resync.inputs.connectionId", "workflow_input", "connectionId", None, ()),
        ("$response.body#/status", "response_body", None, None, ("status",)),
        ("$response.header.Retry-After", "response_header", "Retry-After", None, ()),
        ("$components.parameters.page", "components", "page", None, ()),
    ],
)
def test_the_tree_names_what_an_expression_refers_to(text, kind, name, step, pointer):
    expression = parse_expression(text)
    assert (expression.kind, expression.name, expression.step, expression.pointer) == (kind, name, step, pointer)
    assert expression.text == text


def test_a_workflow_reference_names_its_workflow_and_field():
    expression = parse_expression("$workflows.resync.inputs.connectionId")
    assert isinstance(expression, WorkflowRef)
    assert (expression.workflow, expression.field, expression.field_name) == ("resync", "inputs", "connectionId")


def test_each_form_is_its_own_type():
    assert isinstance(parse_expression("$statusCode"), StatusCode)
    assert isinstance(parse_expression("$inputs.x"), InputRef)
    assert isinstance(parse_expression("$outputs.x"), OutputRef)
    assert isinstance(parse_expression("$steps.s.outputs.x"), StepOutputRef)
    assert isinstance(parse_expression("$workflows.w.inputs.x"), WorkflowRef)
    assert isinstance(parse_expression("$request.query.page"), RequestRef)
    assert isinstance(parse_expression("$response.body"), ResponseRef)
    assert isinstance(parse_expression("$components.inputs.x"), ComponentRef)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("$request.header.", "header"),
        ("$request.body#x", "#"),
        ("$inputs.x#/a~2b", "~"),
        ("$whatever", "expected $url"),
        ("$components.schemas.x", "inputs"),
    ],
)
def test_a_malformed_expression_says_what_is_wrong(text, problem):
    with pytest.raises(ExpressionSyntaxError) as raised:
        parse_expression(text)
    assert problem in str(raised.value)
    assert text in str(raised.value)


def test_a_pointer_can_be_added_to_a_reference():
    expression = parse_expression("$steps.poll.outputs.job").with_pointer(("status",))
    assert expression.text == "$steps.poll.outputs.job#/status"
    assert expression.pointer == ("status",)


def test_scanning_stops_where_a_condition_goes_on():
    expression, end = scan_expression("$response.body#/status == 'ok'", 0)
    assert expression.pointer == ("status",)
    assert end == len("$response.body#/status")


def test_a_template_keeps_its_text_and_expressions_apart():
    template = parse_template("https://{$inputs.host}/jobs/{$steps.start.outputs.id}")
    assert [e.text for e in template.expressions] == ["$inputs.host", "$steps.start.outputs.id"]
    assert [p for p in template.parts if isinstance(p, str)] == ["https://", "/jobs/"]


def test_pointers_follow_rfc_6901():
    assert parse_pointer("") == ()
    assert parse_pointer("/") == ("",)
    assert parse_pointer("/a~0b~1c") == ("a~b/c",)
    with pytest.raises(ExpressionSyntaxError):
        parse_pointer("a")
