"""Other Arazzo tools' validity suites, compiled as a user compiles a document
(`compile_all`, what `arazzo-sfn compile --all` runs): each gives the answer Arazzo 1.0.1
gives, and an invalid document is refused at (or inside) the node the case names.

A valid document may be refused only as *not supported* (valid Arazzo that Step Functions
cannot express, or that the compiler does not translate), and only where NOT_SUPPORTED
says why; the refusal must be an UnsupportedConstruct, so the list cannot hide a wrong
answer. LOWERING_DEFECTS are valid documents the lowering refuses by mistake: expected to
fail until the lowering is mended (strict, so the entry goes when it is)."""

from __future__ import annotations

import json

import pytest

from arazzo_sfn.errors import LoadError
from arazzo_sfn.loader import load_document
from arazzo_sfn.validation import document_problems
from tests.validation.support import FIXTURES, compile_answer

SUITE = FIXTURES / "suites" / "validation"
CASES = {case["id"]: case for case in json.loads((SUITE / "index.json").read_text(encoding="utf-8"))["cases"]}

NOT_SUPPORTED = {
    "speakeasy/expr-url-2": "$url in a parameter value: the URL is what the step is building, so it is not known when the value is needed",
    "speakeasy/expr-request-body-2": "$request.body in a parameter value: the request is what the step is building",
    "speakeasy/expr-request-body-some-path-2": "$request.body in a parameter value: the request is what the step is building",
}

LOWERING_DEFECTS: dict[str, str] = {}


def _marks(case_id: str) -> list[pytest.MarkDecorator]:
    if case_id in LOWERING_DEFECTS:
        return [pytest.mark.xfail(reason=LOWERING_DEFECTS[case_id], strict=True)]
    return []


@pytest.mark.parametrize("case_id", [pytest.param(case_id, marks=_marks(case_id)) for case_id in CASES])
def test_the_compiler_answers_as_arazzo_does(case_id):
    case = CASES[case_id]
    answer = compile_answer(SUITE / case["dir"] / case["doc"])

    if case_id in NOT_SUPPORTED:
        assert answer.verdict == "unsupported", str(answer)
        return
    assert answer.verdict == case["expect"], f"{case['clause']}\n{answer}"
    if case["expect"] == "invalid":
        assert answer.located_at(case["expect_at"]), f"expected at {case['expect_at']}\n{answer}"


def test_only_valid_cases_may_be_refused_as_not_supported():
    listed = set(NOT_SUPPORTED) | set(LOWERING_DEFECTS)
    assert listed <= set(CASES)
    assert all(CASES[case_id]["expect"] == "valid" for case_id in listed)


@pytest.mark.parametrize("case_id", list(CASES))
def test_validation_alone_decides_validity(case_id):
    """Validity is decided before any model is built: an invalid document is refused by
    loading or validation, a valid one passes both (what the lowering then refuses is
    *not supported*, never *invalid*)."""
    case = CASES[case_id]
    try:
        problems = document_problems(load_document(SUITE / case["dir"] / case["doc"]))
    except LoadError as error:
        problems = [error]
    assert bool(problems) == (case["expect"] == "invalid"), "\n".join(map(str, problems))


def test_step_ids_that_differ_in_case_are_two_steps_with_two_functions():
    from arazzo_sfn.compiler import compile_document

    asl = compile_document(SUITE / "spectral" / "stepid-uniqueness-2" / "arazzo.yaml", "workflow1")
    functions = [state["Parameters"]["FunctionName"] for state in asl["States"].values() if state.get("Type") == "Task"]
    assert functions == ["${Step1FunctionArn}", "${Step1_2FunctionArn}"]
