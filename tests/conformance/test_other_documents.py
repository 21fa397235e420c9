"""Workflows of another Arazzo document: a step, an action or a `dependsOn` entry names
`$sourceDescriptions.<name>.<workflowId>` where that source description has `type: arazzo`.
The other document is loaded relative to the one that names it, validated like any document
(its problems located in its own file), and the called workflow runs as a child execution of
its own state machine, compiled from its own document, whose OpenAPI sources resolve
relative to its own file.

The runs compile the parent and its children (`compile_bundle`) and execute them together in
moto against a scripted server, with the harness of `test_constructs`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_all, compile_bundle
from arazzo_sfn.errors import LoadError, ProblemList, SemanticError, UnsupportedConstruct
from arazzo_sfn.loader import load_document
from arazzo_sfn.testing import Reply, ScriptedServer
from tests.conformance.test_arazzo_sfn_run import run_cli
from tests.conformance.test_child_executions import START_CHILD, child_starts
from tests.conformance.test_constructs import Execution, assert_step_failed, execute

DOCUMENTS = Path(__file__).resolve().parents[1] / "fixtures" / "documents" / "other-documents"
RESTOCK = DOCUMENTS / "restock.arazzo.yaml"
ITEM = {"name": "bolt", "stock": 4}


def run_restock(item: Reply) -> Execution:
    return execute(RESTOCK, {"GET /items/{itemId}": item, "POST /reports": Reply(201)}, inputs={"itemId": "it-1"})


def test_the_other_documents_workflow_is_compiled_as_a_child_state_machine():
    bundle = compile_bundle(RESTOCK)

    assert list(bundle) == ["restock-item", "fetch-item"]
    look = bundle["restock-item"]["States"]["look"]
    assert look["Resource"] == START_CHILD
    assert look["Parameters"]["StateMachineArn"] == "${FetchItemStateMachineArn}"
    # The child's own step performs the operation of the other document's OpenAPI source.
    assert bundle["fetch-item"]["States"]["read"]["Parameters"]["FunctionName"] == "${ReadFunctionArn}"


def test_compile_all_writes_the_other_documents_child_too():
    assert set(compile_all(RESTOCK)) == {"restock-item", "fetch-item"}


def test_the_parameters_are_the_childs_inputs_and_its_outputs_flow_on():
    execution = run_restock(Reply(200, ITEM))

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /items/it-1", "POST /reports"]
    assert execution.server.calls[1].body == ITEM
    assert execution.result.output == ITEM
    (start,) = child_starts(execution)
    assert start["Input"]["itemId"] == "it-1"
    assert start["StateMachineArn"].endswith(":stateMachine:fetch-item")


def test_a_failing_child_fails_the_parent_with_the_childs_step_failed():
    execution = run_restock(Reply(404, {"error": "no such item"}))

    cause = assert_step_failed(execution, "read", 404)  # the other document's step
    assert cause["operationId"] == "getItem"
    assert execution.requests == ["GET /items/it-1"]



def test_a_failure_action_goes_to_the_other_documents_workflow_given_the_inputs_it_declares():
    execution = execute(DOCUMENTS / "fallback.arazzo.yaml", {"POST /reports": Reply(503), "GET /items/{itemId}": Reply(200, ITEM)}, inputs={"itemId": "it-2"})

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["POST /reports", "GET /items/it-2"]
    (start,) = child_starts(execution)
    assert start["Input"]["itemId"] == "it-2"
    assert start["StateMachineArn"].endswith(":stateMachine:fetch-item")

# --- dependsOn naming the other document's workflow --------------------------------------------

DEPENDS = DOCUMENTS / "depends.arazzo.yaml"


def run_depends(item: Reply, inputs: dict) -> Execution:
    return execute(DEPENDS, {"GET /items/{itemId}": item, "POST /reports": Reply(201)}, inputs=inputs)


def test_a_dependency_of_another_document_is_compiled_as_a_child_state_machine_started_first():
    bundle = compile_bundle(DEPENDS)

    assert list(bundle) == ["report-after-fetch", "fetch-item"]
    states = bundle["report-after-fetch"]["States"]
    run = states["dependsOn.fetch-item.Run"]
    assert run["Resource"] == START_CHILD
    assert run["Parameters"]["StateMachineArn"] == "${FetchItemStateMachineArn}"
    assert run["Next"] == "report"


def test_the_dependency_runs_first_given_the_inputs_it_declares_and_its_outputs_are_read_later():
    execution = run_depends(Reply(200, ITEM), {"itemId": "it-4"})

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /items/it-4", "POST /reports"]
    (start,) = child_starts(execution)
    assert start["StateMachineArn"].endswith(":stateMachine:fetch-item")
    # itemId, which fetch-item declares; not note, which it does not.
    assert {name: value for name, value in start["Input"].items() if not name.startswith("AWS_")} == {"itemId": "it-4"}
    assert execution.server.calls[1].body == {**ITEM, "note": "restocked"}
    assert execution.result.output == {"name": "bolt"}


def test_dependencies_of_this_document_and_of_another_run_in_the_order_listed():
    execution = execute(DOCUMENTS / "depends-in-order.arazzo.yaml", {"GET /items/{itemId}": Reply(200, ITEM), "POST /reports": Reply(201)},
                        inputs={"itemId": "it-7"}, workflow_id="report-after-both")

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["POST /reports", "GET /items/it-7", "POST /reports"]
    assert execution.server.calls[0].body == {"stage": "start"}
    assert execution.server.calls[2].body == {"stock": 4, "announced": 201}


def test_an_input_the_workflow_was_not_given_is_left_out_of_the_dependencys_input():
    execution = run_depends(Reply(200, ITEM), {})

    (start,) = child_starts(execution)
    assert "itemId" not in start["Input"]
    # Its step cannot fill the path without it: the child fails, and the workflow with it.
    assert execution.result.status == "FAILED"
    assert execution.result.error == "InvalidRequest"
    assert "path parameter 'itemId' is missing" in (execution.result.cause or "")
    assert execution.requests == []


def test_a_failing_dependency_fails_the_workflow_with_its_error_and_cause_before_the_first_step():
    execution = run_depends(Reply(404, {"error": "no such item"}), {"itemId": "it-5"})

    cause = assert_step_failed(execution, "read", 404)  # the child's own error and cause
    assert cause["operationId"] == "getItem"
    assert execution.requests == ["GET /items/it-5"]  # report never sent


def test_a_dependency_with_the_id_of_a_workflow_of_this_document_is_refused_at_its_entry():
    with pytest.raises(UnsupportedConstruct) as refused:
        compile_bundle(DOCUMENTS / "depends-same-id.arazzo.yaml")

    location = refused.value.location
    assert location is not None and location.pointer == "/workflows/0/dependsOn/0"
    assert Path(location.file).name == "depends-same-id.arazzo.yaml"
    message = str(refused.value)
    assert "'$sourceDescriptions.catalog.fetch-item' is not supported" in message
    assert "workflow 'fetch-item' of catalog.arazzo.yaml has the id of a workflow of depends-same-id.arazzo.yaml" in message


def test_two_dependencies_of_one_id_from_two_documents_are_refused_at_the_second():
    with pytest.raises(UnsupportedConstruct) as refused:
        compile_bundle(DOCUMENTS / "depends-two-of-one-id.arazzo.yaml")

    location = refused.value.location
    assert location is not None and location.pointer == "/workflows/0/dependsOn/1"
    assert "'$sourceDescriptions.catalog.fetch-item' and '$sourceDescriptions.restocking.fetch-item' are not supported together" in str(refused.value)


def test_arazzo_sfn_run_runs_a_workflow_whose_dependency_is_of_another_document():
    with ScriptedServer({"GET /items/{itemId}": Reply(200, ITEM), "POST /reports": Reply(201)}) as server:
        done = run_cli("run", str(DEPENDS), "--input", '{"itemId": "it-6"}', "--server-url", server.url, "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED" and result["output"] == {"name": "bolt"}
    assert server.sequence() == ["GET /items/it-6", "POST /reports"]


def test_a_document_named_twice_is_loaded_once_and_its_workflow_is_one_child():
    document = load_document(DOCUMENTS / "twice.arazzo.yaml")
    assert document.documents["catalog"] is document.documents["sameCatalog"]

    bundle = compile_bundle(DOCUMENTS / "twice.arazzo.yaml")

    assert list(bundle) == ["look-twice", "fetch-item"]
    arns = {bundle["look-twice"]["States"][step]["Parameters"]["StateMachineArn"] for step in ("first", "second")}
    assert arns == {"${FetchItemStateMachineArn}"}


def test_an_unknown_workflow_of_the_other_document_is_refused_at_the_steps_workflow_id():
    with pytest.raises(ProblemList) as refused:
        compile_bundle(DOCUMENTS / "unknown-workflow.arazzo.yaml")

    (problem,) = refused.value.problems
    assert problem.location is not None
    assert problem.location.file.endswith("unknown-workflow.arazzo.yaml")
    assert problem.location.pointer == "/workflows/0/steps/0/workflowId"
    assert "catalog.arazzo.yaml has no workflow 'fetch-items'" in str(problem)


def test_a_problem_of_the_other_document_is_located_in_its_own_file():
    with pytest.raises(ProblemList) as refused:
        compile_bundle(DOCUMENTS / "broken-document.arazzo.yaml")

    (problem,) = refused.value.problems
    assert problem.location is not None
    assert Path(problem.location.file).name == "broken.arazzo.yaml"
    assert problem.location.pointer == "/workflows/0/steps/0/operationId"


def test_a_missing_document_is_one_line_naming_its_path():
    with pytest.raises(LoadError) as refused:
        compile_bundle(DOCUMENTS / "missing-document.arazzo.yaml")

    message = str(refused.value)
    assert "\n" not in message
    assert "cannot read absent.arazzo.yaml" in message
    assert refused.value.location is not None and refused.value.location.pointer == "/sourceDescriptions/0/url"


def test_documents_that_name_each_other_are_refused_naming_the_chain():
    with pytest.raises(LoadError) as refused:
        compile_bundle(DOCUMENTS / "cycle-first.arazzo.yaml")

    assert "cycle: cycle-first.arazzo.yaml -> cycle-second.arazzo.yaml -> cycle-first.arazzo.yaml" in str(refused.value)


def test_two_workflows_of_one_id_from_two_documents_are_refused_naming_both():
    with pytest.raises(SemanticError) as refused:
        compile_bundle(DOCUMENTS / "same-id.arazzo.yaml", "restock-twice")

    message = str(refused.value)
    assert "'fetch-item' of catalog.arazzo.yaml and workflow 'fetch-item' of same-id.arazzo.yaml" in message
    assert "${FetchItemStateMachineArn}" in message


def test_arazzo_sfn_run_binds_the_other_documents_child():
    with ScriptedServer({"GET /items/{itemId}": Reply(200, ITEM), "POST /reports": Reply(201)}) as server:
        done = run_cli("run", str(RESTOCK), "--input", '{"itemId": "it-3"}', "--server-url", server.url, "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED" and result["output"] == ITEM
    assert server.sequence() == ["GET /items/it-3", "POST /reports"]
