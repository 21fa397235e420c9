"""x-for-each: a workflowId step runs its workflow once per item of an array, each run a child
execution of the workflow's own state machine, from a Map state in DISTRIBUTED mode.

Each test compiles a parent and the child it maps (`compile_bundle`), runs them together in
moto against a scripted server (the counts table created by the local runner), and checks the
status, each item's result and the counts, or the error and the cause, and the requests the
server received. The documents are fixture files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import cfnlint.api
import pytest
from botocore.exceptions import ClientError
from cfnlint.config import ManualArgs
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import StateTaskServiceSfn
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from arazzo_sfn import engine
from arazzo_sfn import execution as execution_module
from arazzo_sfn.compiler import compile_bundle
from arazzo_sfn.engine import ACCOUNT_ID, REGION
from arazzo_sfn.local_run import LOCAL_COUNTER_TABLE
from arazzo_sfn.lower.foreach import COUNTER_TABLE_PLACEHOLDER, MAP_FAILED_ERROR
from arazzo_sfn.testing import Reply, ScriptedServer
from tests.conformance.test_arazzo_sfn_run import run_cli
from tests.conformance.test_child_executions import assert_succeeded
from tests.conformance.test_constructs import Execution, execute

FIXTURES = Path(__file__).parents[1] / "fixtures" / "documents" / "for-each"
DOCUMENT = FIXTURES / "shelf.arazzo.yaml"

RESTOCK = "POST /items/{itemId}/restock"
DONE = "POST /items/{itemId}/done"
SHELF = {RESTOCK: Reply(202), DONE: Reply(200, {"units": 3}), "POST /reports": Reply(201)}


def shelf(item_ids: list[str], routes: dict | None = None, **inputs: object) -> Execution:
    """restock-shelf over the items given, with `routes` answering beside the shelf's own."""
    given = {"items": [{"itemId": item_id} for item_id in item_ids], **inputs}
    return execute(DOCUMENT, {**SHELF, **(routes or {})}, inputs=given, workflow_id="restock-shelf")


def listed(item_ids: list[str], routes: dict | None = None) -> Execution:
    """restock-listed, its list step answering `item_ids`."""
    return execute(DOCUMENT, {"GET /items": Reply(200, {"items": item_ids}), **SHELF, **(routes or {})}, workflow_id="restock-listed")


def outcomes(execution: Execution, results: list[dict] | None = None) -> dict[str, str]:
    """Each item's id -> its outcome."""
    if results is None:
        results = execution.result.output["results"]
    return {str(result["itemId"]): result["outcome"] for result in results}



def child_name(result: dict) -> str:
    return str(result["executionArn"]).rsplit(":", 1)[-1]


def restocked(execution: Execution) -> list[str]:
    """The items whose restock the server was asked for, in order."""
    return [call.path.split("/")[2] for call in execution.server.calls if call.path.endswith("/restock")]


# --- every item succeeds ------------------------------------------------------------------------

def test_every_item_runs_its_own_child_and_the_results_and_counts_say_so():
    execution = shelf(["a", "b", "c"], note="monthly")

    assert_succeeded(execution)
    output = execution.result.output
    assert outcomes(execution) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert [result["itemId"] for result in output["results"]] == ["a", "b", "c"]  # the items' order, each named by its input
    assert all(result["outputs"] == {"units": 3} for result in output["results"])
    assert output["counts"] == {"succeeded": 3, "failed": 0, "skipped": 0, "notStarted": 0}
    assert output["failed"] == 0  # `$outputs.counts#/failed`
    # Each child got the member the pointer names, and the step's parameters unchanged.
    assert sorted(restocked(execution)) == ["a", "b", "c"]
    assert all(call.body == {"note": "monthly"} for call in execution.server.calls if call.path.endswith("/restock"))
    # A later step reads the counts.
    assert execution.server.calls[-1].body == {"counts": output["counts"]}


def test_no_items_start_nothing_and_count_nothing():
    execution = shelf([])

    assert_succeeded(execution)
    assert execution.result.output["results"] == []
    assert execution.result.output["counts"] == {"succeeded": 0, "failed": 0, "skipped": 0, "notStarted": 0}
    assert execution.requests == ["POST /reports"]


def test_each_child_is_named_after_the_step_the_execution_and_its_item():
    execution = shelf(["a", "b"])

    assert_succeeded(execution)
    counter = _counter_id(execution)
    assert counter.startswith(execution.result.execution_arn + "/restockEach/")
    # The same step in the same execution and the same item give the same name, so an
    # iteration run again (a Retry after a transient error) starts no second child:
    # StartExecution with a name already used starts nothing new.
    for result in execution.result.output["results"]:
        item = json.dumps(result["itemId"])
        assert child_name(result) == "restockEach-" + hashlib.md5(f"{counter}/{item}".encode()).hexdigest()


@contextlib.contextmanager
def start_answers_an_error_once_it_started(item_id: str) -> Iterator[list[str]]:
    """The first StartExecution of the child given `item_id` starts it, then answers a
    transient error (the answer lost on its way back), so the iteration's Task is retried;
    the child runs no function until the retry asks again. Yields the names of the children
    asked for that item."""
    original = StateTaskServiceSfn._eval_service_task
    asked: list[str] = []
    held: list[bool] = []
    releasing = threading.Lock()

    def let_functions_run() -> None:
        with releasing:
            if held:
                held.clear()
                engine._ONE_INVOCATION_AT_A_TIME.release()

    def flaky(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        def start():
            return original(self, env=env, resource_runtime_part=resource_runtime_part, normalised_parameters=normalised_parameters, state_credentials=state_credentials)

        parameters = normalised_parameters
        given = parameters.get("input")
        given = json.loads(given) if isinstance(given, str) else given or {}
        if given.get("itemId") != item_id:
            return start()
        asked.append(parameters["name"])
        if len(asked) > 1:
            let_functions_run()
            return start()
        engine._ONE_INVOCATION_AT_A_TIME.acquire()  # the child's first function waits for the retry
        held.append(True)
        # Should no retry come (the test then fails), the functions run again after a while.
        threading.Timer(10, let_functions_run).start()
        start()
        env.stack.pop()
        raise ClientError({"Error": {"Code": "AWSStepFunctions", "Message": "connection reset"}, "ResponseMetadata": {"HTTPStatusCode": 500, "RequestId": "local"}}, "StartExecution")

    StateTaskServiceSfn._eval_service_task = flaky
    try:
        yield asked
    finally:
        StateTaskServiceSfn._eval_service_task = original


def test_an_iteration_retried_after_its_child_started_starts_no_second_child():
    with start_answers_an_error_once_it_started("b") as asked:
        execution = shelf(["a", "b", "c"], maxConcurrent=1)

    assert_succeeded(execution)
    # The Task was retried (one wait of the Retry), asking for the same name, and got the
    # child the first attempt started: b was restocked once.
    first, again = asked
    assert first == again == child_name(execution.result.output["results"][1])
    assert execution.sleeps == [2]
    assert outcomes(execution) == {"a": "succeeded", "b": "succeeded", "c": "succeeded"}
    assert restocked(execution) == ["a", "b", "c"]


def _counter_id(execution: Execution) -> str:
    """The id of the step's counts item, from the state the step starts with."""
    exited = [event for event in execution.result.history if event["type"] == "PassStateExited" and event["stateExitedEventDetails"]["name"] == "restockEach"]
    return str(json.loads(exited[0]["stateExitedEventDetails"]["output"])["steps"]["restockEach"]["counter"])


# --- failures ------------------------------------------------------------------------------------

def test_one_failure_with_none_tolerated_starts_no_later_item_and_fails_the_step_listing_it():
    execution = shelf(["a", "b", "c", "d"], {"POST /items/b/restock": Reply(500, {"error": "jammed"})}, maxConcurrent=1)

    assert execution.result.status == "FAILED"
    assert execution.result.error == "ForEachFailed"
    cause = execution.failure()
    assert cause["step"] == "restockEach" and cause["workflowId"] == "restock-item"
    assert cause["toleratedFailures"] == 0
    assert cause["counts"] == {"succeeded": 1, "failed": 1, "skipped": 0, "notStarted": 2}
    assert "1 items failed, 0 tolerated" in cause["message"]
    (failed,) = cause["failed"]
    assert failed["itemId"] == "b" and failed["outcome"] == "failed"
    assert failed["error"] == "StepFailed" and json.loads(failed["cause"])["statusCode"] == 500
    assert failed["executionArn"].split(":")[-2] == "restock-item"
    # One at a time: a finished, b failed, c and d were never started.
    assert execution.requests == ["POST /items/a/restock", "POST /items/a/done", "POST /items/b/restock"]


def test_items_under_way_when_the_tolerance_is_crossed_finish():
    execution = shelf(["a", "b", "c", "d", "e"], {"POST /items/b/restock": Reply(500)}, maxConcurrent=3)

    assert execution.result.status == "FAILED"
    assert execution.result.error == "ForEachFailed"
    results = {result["itemId"]: result for result in execution.failure()["failed"]}
    assert list(results) == ["b"]
    # Every child started other than b went on to its end: none was stopped half done.
    started = [item for item in restocked(execution) if item != "b"]
    finished = [call.path.split("/")[2] for call in execution.server.calls if call.path.endswith("/done")]
    assert sorted(started) == sorted(finished)
    counts = execution.failure()["counts"]
    assert counts["failed"] == 1 and counts["succeeded"] == len(started) and counts["notStarted"] == 4 - len(started)


def test_failures_within_the_tolerance_leave_the_step_succeeded_with_the_counts():
    execution = listed(["a", "b", "c"], {"POST /items/b/restock": Reply(500)})

    assert_succeeded(execution)
    assert outcomes(execution) == {"a": "succeeded", "b": "failed", "c": "succeeded"}
    assert execution.result.output["counts"] == {"succeeded": 2, "failed": 1, "skipped": 0, "notStarted": 0}
    (failed,) = [result for result in execution.result.output["results"] if result["outcome"] == "failed"]
    assert failed["itemId"] == "b" and failed["error"] == "StepFailed"


def test_more_failures_than_tolerated_fail_with_the_error_the_extension_names():
    execution = listed(["a", "b", "c", "d"], {"POST /items/b/restock": Reply(500), "POST /items/c/restock": Reply(500)})

    assert execution.result.status == "FAILED"
    assert execution.result.error == "ShelfNotRestocked"
    cause = execution.failure()
    assert cause["toleratedFailures"] == 1
    assert [failed["itemId"] for failed in cause["failed"]] == ["b", "c"]
    assert cause["counts"] == {"succeeded": 1, "failed": 2, "skipped": 0, "notStarted": 1}
    assert "d" not in restocked(execution)


def test_a_child_ending_with_an_error_in_skip_on_is_skipped_not_failed():
    execution = shelf(["a", "b", "c"], {"POST /items/b/restock": Reply(409)})

    assert_succeeded(execution)
    assert outcomes(execution) == {"a": "succeeded", "b": "skipped", "c": "succeeded"}
    skipped = execution.result.output["results"][1]
    assert skipped["error"] == "ItemInactive" and json.loads(skipped["cause"]) == {"itemId": "b"}
    assert execution.result.output["counts"] == {"succeeded": 2, "failed": 0, "skipped": 1, "notStarted": 0}


def test_an_error_not_in_skip_on_is_a_failure():
    # restock-listed has no skipOn: the same ItemInactive is a failure there.
    execution = listed(["a", "b"], {"POST /items/b/restock": Reply(409)})

    assert_succeeded(execution)  # one failure is tolerated
    assert outcomes(execution) == {"a": "succeeded", "b": "failed"}


# --- concurrency ---------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [1, 2])
def test_never_more_children_run_at_once_than_max_concurrency(limit):
    items = [f"i{number}" for number in range(6)]
    execution = shelf(items, maxConcurrent=limit)

    assert_succeeded(execution)
    # An item runs from its restock request to its done request (the child's two steps).
    running, most = set(), 0
    for call in execution.server.calls:
        item = call.path.split("/")[2] if call.path.startswith("/items/") else None
        if call.path.endswith("/restock"):
            running.add(item)
            most = max(most, len(running))
        elif call.path.endswith("/done"):
            running.discard(item)
    assert 1 <= most <= limit
    assert sorted(restocked(execution)) == items


# --- what AWS would accept -----------------------------------------------------------------------

@pytest.mark.parametrize("workflow_id", ["restock-shelf", "restock-listed"])
def test_the_generated_asl_passes_cfn_lint(workflow_id):
    bundle = compile_bundle(DOCUMENT, workflow_id)
    text = json.dumps(bundle[workflow_id])
    text = text.replace("${" + COUNTER_TABLE_PLACEHOLDER + "}", "for-each-counts")
    text = text.replace("${RestockItemStateMachineArn}", f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:restock-item")
    assert "${" in text  # the operation functions' placeholders remain
    text = text.replace("${", "arn:aws:lambda:us-east-1:123456789012:function:").replace("FunctionArn}", "")
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/for-each",
            "StateMachineType": "STANDARD",
            "Definition": json.loads(text),
        }}},
    }
    matches = cfnlint.api.lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    assert not [match for match in matches if match.rule.id.startswith("E")], "\n".join(str(match) for match in matches)


def test_the_asl_lint_sees_a_broken_map():
    # The lint above proves something only if it looks inside the Map's own states.
    asl = compile_bundle(DOCUMENT, "restock-listed")["restock-listed"]
    broken = json.loads(json.dumps(asl))
    broken["States"]["restockEach.ForEach"]["ItemProcessor"]["States"]["restockEach.Item.Decide"]["Type"] = "Decide"
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/for-each", "Definition": broken}}}}
    matches = cfnlint.api.lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    assert any(match.rule.id == "E3601" for match in matches), "\n".join(str(match) for match in matches)


# --- the counts item does not outlive the step -------------------------------------------------

@pytest.fixture
def counts_left(monkeypatch) -> list[list[dict]]:
    """The items of the counts table as each run leaves them, read in the run's moto once the
    execution has ended (before the mocked AWS goes)."""
    left: list[list[dict]] = []
    follow = execution_module.follow

    def follow_then_read_the_table(*args, **kwargs):
        result = follow(*args, **kwargs)
        left.append(boto3.client("dynamodb", region_name=REGION).scan(TableName=LOCAL_COUNTER_TABLE, ConsistentRead=True)["Items"])
        return result

    monkeypatch.setattr(execution_module, "follow", follow_then_read_the_table)
    return left


@contextlib.contextmanager
def the_map_fails_after_its_items() -> Iterator[None]:
    """Every Map runs its items, then fails as a Distributed Map does when an iteration failed
    outright (moto's never does): States.ExceedToleratedFailureThreshold."""
    original = StateMap._eval_execution

    def run_then_fail(self, env):
        original(self, env)
        error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
        details = MapRunFailedEventDetails(error=error.error_name, cause="The specified tolerated failure threshold was exceeded")
        raise FailureEventException(FailureEvent(env=env, error_name=error, event_type=HistoryEventType.MapRunFailed,
                                                 event_details=EventDetails(mapRunFailedEventDetails=details)))

    StateMap._eval_execution = run_then_fail
    try:
        yield
    finally:
        StateMap._eval_execution = original


def test_once_the_step_succeeded_its_counts_item_is_gone(counts_left):
    execution = shelf(["a", "b"])

    assert_succeeded(execution)
    # The counts were read from the item, as it was deleted.
    assert execution.result.output["counts"] == {"succeeded": 2, "failed": 0, "skipped": 0, "notStarted": 0}
    assert counts_left == [[]]


def test_once_the_step_failed_its_counts_item_is_gone(counts_left):
    execution = shelf(["a", "b", "c"], {"POST /items/b/restock": Reply(500)}, maxConcurrent=1)

    assert execution.result.status == "FAILED" and execution.result.error == "ForEachFailed"
    assert execution.failure()["counts"] == {"succeeded": 1, "failed": 1, "skipped": 0, "notStarted": 1}
    assert counts_left == [[]]


def test_a_map_that_fails_has_its_counts_item_deleted_then_fails_the_step_with_its_error(counts_left):
    with the_map_fails_after_its_items():
        execution = shelf(["a", "b"])

    assert execution.result.status == "FAILED"
    # A Fail state may not raise the Map's own States.* error: its error and cause are the cause.
    assert execution.result.error == MAP_FAILED_ERROR
    assert execution.failure() == {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "The specified tolerated failure threshold was exceeded"}
    assert sorted(restocked(execution)) == ["a", "b"]
    assert counts_left == [[]]


# --- arazzo-sfn run ------------------------------------------------------------------------------

def test_arazzo_sfn_run_creates_the_counts_table_itself():
    with ScriptedServer({"GET /items": Reply(200, {"items": ["a", "b"]}), **SHELF}) as server:
        answer = run_cli("run", str(DOCUMENT), "--workflow", "restock-listed", "--server-url", server.url, "--json")

    assert answer.returncode == 0, answer.stderr
    run = json.loads(answer.stdout)
    assert run["status"] == "SUCCEEDED"
    assert run["output"]["counts"] == {"succeeded": 2, "failed": 0, "skipped": 0, "notStarted": 0}
