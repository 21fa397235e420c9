"""x-for-each: its value against its schema, then where it stands and what it reads; every
problem at once, each at the field that breaks it. The documents are fixture files."""

from __future__ import annotations

import pytest

from arazzo_sfn.compiler import compile_all
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.loader import load_document
from arazzo_sfn.model import DEFAULT_FOR_EACH_ERROR, build_workflow
from arazzo_sfn.validation import document_problems
from tests.validation.support import FIXTURES

DOCUMENTS = FIXTURES / "documents" / "for-each"


def problems(name: str) -> dict[str, str]:
    found = document_problems(load_document(DOCUMENTS / name))
    return {problem.location.pointer: problem.message for problem in found if problem.location}


def test_the_shelf_document_is_valid_and_the_model_holds_the_defaults():
    loaded = load_document(DOCUMENTS / "shelf.arazzo.yaml")
    assert document_problems(loaded) == []
    listed = build_workflow(loaded, "restock-listed").step("restockEach").for_each
    assert listed is not None
    assert (listed.items, listed.input, listed.pointer, listed.max_concurrency, listed.tolerated_failures) == ("$steps.list.outputs.items", "itemId", None, 1, 1)
    assert listed.error == "ShelfNotRestocked" and listed.skip_on == ()
    shelf = build_workflow(loaded, "restock-shelf").step("restockEach").for_each
    assert shelf is not None and shelf.error == DEFAULT_FOR_EACH_ERROR and shelf.skip_on == ("ItemInactive",)


STEPS = "/workflows/0/steps"


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (f"{STEPS}/0/x-for-each", "x-for-each belongs on a step with workflowId (step 'onOperation' performs an operation)"),
        (f"{STEPS}/1/x-for-each/input", "x-for-each input 'sku': workflow 'restock-item' declares no such input"),
        (f"{STEPS}/1/x-for-each/maxConcurrency", "x-for-each maxConcurrency uses input 'maxConcurrent', which needs a default or must be required"),
        (f"{STEPS}/2/x-for-each/items", "x-for-each items '$statusCode': an expression here is $inputs.<name> or $steps.<step>.outputs.<name>"),
        (f"{STEPS}/2/x-for-each/toleratedFailures", "x-for-each toleratedFailures uses input 'items', which needs a default or must be required"),
        (f"{STEPS}/2/x-for-each/pointer", "x-for-each pointer:"),
        (f"{STEPS}/2/outputs/units", "a step with x-for-each offers $outputs.results, $outputs.counts"),
        (f"{STEPS}/3/x-for-each", "has x-for-each and successCriteria: its outcome is decided by toleratedFailures"),
        (f"{STEPS}/4/x-for-each/input", "x-for-each input 'outcome': each result names its item by the input"),
    ],
)
def test_a_misplaced_x_for_each_is_located_at_the_field(at, message):
    found = problems("misplaced.arazzo.yaml")
    assert at in found, found
    assert message in found[at]


def test_every_misplacement_is_reported_at_once():
    assert len(problems("misplaced.arazzo.yaml")) >= 9


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (f"{STEPS}/0/x-for-each", "'input' is a required property"),
        (f"{STEPS}/1/x-for-each/items", "items is a runtime expression giving an array"),
        (f"{STEPS}/2/x-for-each/maxConcurrency", "maxConcurrency is an integer from 0 to 10000"),
        (f"{STEPS}/2/x-for-each/toleratedFailures", "toleratedFailures is a non-negative integer"),
        (f"{STEPS}/3/x-for-each/skipOn/0", "an error in skipOn is a name like"),
        (f"{STEPS}/3/x-for-each/error", "error is a name like ForEachFailed"),
    ],
)
def test_a_value_its_schema_refuses_is_located_at_the_field(at, message):
    found = problems("malformed.arazzo.yaml")
    assert at in found, found
    assert found[at].startswith("x-for-each: ") and message in found[at]


def test_an_unknown_field_is_refused():
    found = problems("malformed.arazzo.yaml")
    assert "'every' was unexpected" in found[f"{STEPS}/3/x-for-each"]


def test_x_for_each_in_a_workflow_inlined_into_another_is_not_supported(tmp_path):
    text = (DOCUMENTS / "shelf.arazzo.yaml").read_text(encoding="utf-8")
    inlining = text.replace("- workflowId: restock-listed\n", "- workflowId: restock-listed\n  x-child-execution: false\n") + (
        "- workflowId: calls-listed\n  steps:\n  - {stepId: run, workflowId: restock-listed}\n"
    )
    (tmp_path / "shelf.openapi.yaml").write_text((DOCUMENTS / "shelf.openapi.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    document = tmp_path / "shelf.arazzo.yaml"
    document.write_text(inlining, encoding="utf-8")
    with pytest.raises(UnsupportedConstruct, match="x-for-each on step 'restockEach' of workflow 'restock-listed', whose states are inlined"):
        compile_all(document)
