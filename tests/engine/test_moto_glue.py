"""The engine glue's patches of moto: each does what AWS does, and each has a test that
fails the day moto no longer needs it."""

from __future__ import annotations

import contextlib
import json
import time
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError

from arazzo_sfn.engine import ACCOUNT_ID, MOTO_CONFIG, REGION, LocalFunctions, function_arn, local_aws

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/local"
CHILD_SUCCEEDS = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Parameters": {"given.$": "$.value"}, "End": True}}}
CHILD_FAILS = {"StartAt": "Fail", "States": {"Fail": {"Type": "Fail", "Error": "ResetFailed", "Cause": "the reset failed"}}}


def parent(child_arn: str) -> dict:
    return {
        "StartAt": "Child",
        "States": {
            "Child": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child_arn, "Name": "child-1", "Input": {"value": 7}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def run_parent(child: dict) -> dict:
    client = boto3.client("stepfunctions", region_name=REGION)
    child_arn = client.create_state_machine(name="child", definition=json.dumps(child), roleArn=ROLE)["stateMachineArn"]
    parent_arn = client.create_state_machine(name="parent", definition=json.dumps(parent(child_arn)), roleArn=ROLE)["stateMachineArn"]
    execution = client.start_execution(stateMachineArn=parent_arn, name="parent-1", input="{}")["executionArn"]
    return json.loads(ended(client, execution).get("output") or "null")


def ended(client, execution: str) -> dict:
    """The execution's description once it has ended. The deadline only stops a run that
    hangs: a loaded machine may take many times longer than an idle one."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        description = client.describe_execution(executionArn=execution)
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.02)
    raise AssertionError("the execution did not end")


def test_a_child_execution_runs_and_its_output_comes_back_as_aws_shapes_it():
    with local_aws(LocalFunctions()):
        output = run_parent(CHILD_SUCCEEDS)
    assert output["Status"] == "SUCCEEDED"
    assert output["Output"] == {"given": 7}  # .sync:2: parsed JSON, not a string
    assert output["Name"] == "child-1"
    assert output["ExecutionArn"].endswith(":execution:child:child-1")
    assert isinstance(output["StartDate"], int) and output["StopDate"] >= output["StartDate"]  # epoch milliseconds


def test_a_failed_child_reaches_the_parent_as_states_task_failed_with_its_error_in_the_cause():
    with local_aws(LocalFunctions()):
        output = run_parent(CHILD_FAILS)
    assert output["caught"]["Error"] == "States.TaskFailed"
    cause = json.loads(output["caught"]["Cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "ResetFailed", "the reset failed")


def test_moto_still_needs_the_nested_execution_shim():
    """moto issue #10076. When this fails, moto normalises startExecution parameters again:
    drop `_sfn_integration_normalised` from the engine glue, and this test with it."""
    with local_aws(LocalFunctions(), nested_executions=False):
        output = run_parent(CHILD_SUCCEEDS)
    assert output["caught"] == {"Error": "States.Runtime", "Cause": "'StateMachineArn'"}


def test_lambda_tasks_reach_the_bound_handler_and_report_its_errors_as_lambda_does():
    functions = LocalFunctions()
    functions.register(function_arn("ok"), lambda event, context: {"doubled": event["n"] * 2})

    def broken(event, context):
        raise KeyError("n")

    functions.register(function_arn("broken"), broken)
    machine = {
        "StartAt": "Ok",
        "States": {
            "Ok": {"Type": "Task", "Resource": function_arn("ok"), "ResultPath": "$.ok", "Next": "Broken"},
            "Broken": {"Type": "Task", "Resource": function_arn("broken"), "Catch": [{"ErrorEquals": ["KeyError"], "ResultPath": "$.error", "Next": "Done"}], "End": True},
            "Done": {"Type": "Pass", "End": True},
        },
    }
    with local_aws(functions):
        client = boto3.client("stepfunctions", region_name=REGION)
        arn = client.create_state_machine(name="m", definition=json.dumps(machine), roleArn=ROLE)["stateMachineArn"]
        execution = client.start_execution(stateMachineArn=arn, name="e", input=json.dumps({"n": 4}))["executionArn"]
        description = ended(client, execution)
    output = json.loads(description["output"])
    assert output["ok"] == {"doubled": 8}
    assert output["error"]["Error"] == "KeyError"
    assert [i.error_type for i in functions.invocations] == [None, "KeyError"]


# ------------------------------------------------------------ speed: what a long local run takes


def test_json_paths_are_parsed_once_for_every_run_and_read_the_same():
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    with local_aws(LocalFunctions()):
        first_run = json_path.parse("$.steps.poll.body")
    with local_aws(LocalFunctions()):
        assert json_path.parse("$.steps.poll.body") is first_run
        assert json_path.extract_json("$.steps.poll.body.status", {"steps": {"poll": {"body": {"status": "running"}}}}) == "running"
        assert result_path.parse("$.steps.poll") is result_path.parse("$.steps.poll")


def test_moto_still_parses_each_json_path_at_every_read():
    # The day moto (or jsonpath_ng) caches parsed paths itself, the glue's cache can go.
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    assert json_path.parse is jsonpath_ng.ext.parse
    assert result_path.parse is jsonpath_ng.parse
    assert json_path.parse("$.a") is not json_path.parse("$.a")


def test_a_sync_task_looks_for_its_childs_end_more_often_during_a_run_only():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback as callback

    from arazzo_sfn.engine import SYNC_CHECK_SECONDS

    assert callback._DELAY_SECONDS_SYNC_CONDITION_CHECK == 0.5  # moto's own: the day it changes, look again
    with local_aws(LocalFunctions()):
        assert callback._DELAY_SECONDS_SYNC_CONDITION_CHECK == SYNC_CHECK_SECONDS
    assert callback._DELAY_SECONDS_SYNC_CONDITION_CHECK == 0.5


def test_each_definition_is_parsed_once_and_its_components_are_built_anew():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    definition = json.dumps(CHILD_SUCCEEDS)
    broken = '{"StartAt": "A", "States": {"A": {"Type": "Nope"}}}'
    own_parse = AmazonStateLanguageParser.parse
    with local_aws(LocalFunctions()):
        first_program, first_tree = AmazonStateLanguageParser.parse(definition)
        second_program, second_tree = AmazonStateLanguageParser.parse(definition)
        # A broken definition is refused as moto refuses it, each time.
        client = boto3.client("stepfunctions", region_name=REGION)
        for attempt in range(2):
            with pytest.raises(ASLParserException):
                AmazonStateLanguageParser.parse(broken)
            with pytest.raises(ClientError, match="ASLParserException"):
                client.create_state_machine(name=f"broken-{attempt}", definition=broken, roleArn=ROLE)
            client.create_state_machine(name=f"valid-{attempt}", definition=definition, roleArn=ROLE)
    assert second_tree is first_tree
    assert second_program is not first_program  # what an execution evaluates is its own
    assert AmazonStateLanguageParser.parse is own_parse


# ------------------------------------------------------------ an ending read whole


class _RecordedExecution:
    """An execution that records the order its fields are written in."""

    def __init__(self, ending):
        self.written: list[str] = []
        self.exec_worker = SimpleNamespace(env=SimpleNamespace(program_state=lambda: ending, states=SimpleNamespace(get_input=lambda: {"done": True})))

    def __setattr__(self, name, value):
        if name != "written":
            self.written.append(name)
        super().__setattr__(name, value)


@pytest.mark.parametrize("ending", ["succeeded", "failed"])
def test_an_ending_execution_gets_its_output_or_error_before_its_status(ending):
    """A DescribeExecution reads the status, then the output (or error and cause): written
    in the other order, a reader in between sees SUCCEEDED without output, as a loaded
    machine made a run report."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    state = ProgramEnded() if ending == "succeeded" else ProgramError({"error": "StepFailed", "cause": "refused"})
    execution = _RecordedExecution(state)
    with local_aws(LocalFunctions()):
        BaseExecutionWorkerCommunication(execution)._reflect_execution_status()

    status_at = execution.written.index("exec_status")
    wanted = ["output"] if ending == "succeeded" else ["error", "cause"]
    assert all(execution.written.index(field) < status_at for field in wanted), execution.written
    assert execution.exec_status == ending.upper()
    if ending == "succeeded":
        assert execution.output == {"done": True}
    else:
        assert (execution.error, execution.cause) == ("StepFailed", "refused")
    # The day moto writes the status last itself, `_endings_written_whole` can go.
    on_its_own = _RecordedExecution(state)
    BaseExecutionWorkerCommunication(on_its_own)._reflect_execution_status()
    assert on_its_own.written.index("exec_status") < on_its_own.written.index(wanted[0])


# ------------------------------------------------------------ DynamoDB, one request at a time


def _two_additions_at_once(table: str, meet_timeout: float) -> int:
    """Two threads add 1 to one counter, each held, once it has read the counter, until the
    other has read it too (or until `meet_timeout`, when the other cannot get that far): the
    counter they leave."""
    import threading

    from moto.dynamodb.models.dynamo_type import DynamoType

    meeting = threading.Barrier(2, timeout=meet_timeout)
    own_add = DynamoType.__add__

    def add_when_both_have_read(self, other):
        total = own_add(self, other)
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait()
        return total

    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    client.put_item(TableName=table, Item={"id": {"S": "counter"}, "succeeded": {"N": "0"}})

    def add_one() -> None:
        boto3.client("dynamodb", region_name=REGION).update_item(
            TableName=table, Key={"id": {"S": "counter"}}, UpdateExpression="ADD #outcome :one",
            ExpressionAttributeNames={"#outcome": "succeeded"}, ExpressionAttributeValues={":one": {"N": "1"}})

    DynamoType.__add__ = add_when_both_have_read
    try:
        threads = [threading.Thread(target=add_one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        DynamoType.__add__ = own_add
    item = client.get_item(TableName=table, Key={"id": {"S": "counter"}}, ConsistentRead=True)["Item"]
    return int(item["succeeded"]["N"])


def test_two_additions_to_one_item_at_once_both_count_during_a_run():
    """A Map's iterations count their outcomes in one DynamoDB item, as a for-each step does:
    DynamoDB applies each ADD whole, so two at once add 2."""
    with local_aws(LocalFunctions()):
        # The second addition cannot start while the first waits for it: the wait times out.
        assert _two_additions_at_once("counters", meet_timeout=0.2) == 2


def test_moto_still_loses_one_of_two_additions_at_once():
    """The day moto applies each request whole on its own, `_dynamodb_writes_serialised` can go."""
    from moto import mock_aws

    with mock_aws():
        assert _two_additions_at_once("counters", meet_timeout=60) == 1


# ------------------------------------------------------------ execution history, a page at a time

PASSES = {"StartAt": "P0", "States": {f"P{n}": {"Type": "Pass", **({"Next": f"P{n + 1}"} if n < 9 else {"End": True})} for n in range(10)}}


def _ended_execution() -> tuple[object, str]:
    client = boto3.client("stepfunctions", region_name=REGION)
    machine = client.create_state_machine(name="passes", definition=json.dumps(PASSES), roleArn=ROLE)["stateMachineArn"]
    execution = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    ended(client, execution)
    return client, execution


def test_a_history_is_read_a_page_at_a_time_either_way_during_a_run():
    with local_aws(LocalFunctions()):
        client, execution = _ended_execution()
        whole = client.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        count = len(whole)
        assert count > 20 and [event["id"] for event in whole] == list(range(1, count + 1))
        for reverse in (False, True):
            ids, token = [], None
            while True:
                page = client.get_execution_history(executionArn=execution, maxResults=5, reverseOrder=reverse, **({"nextToken": token} if token else {}))
                assert len(page["events"]) <= 5
                ids += [event["id"] for event in page["events"]]
                token = page.get("nextToken")
                if not token:
                    break
            assert ids == (list(range(count, 0, -1)) if reverse else list(range(1, count + 1)))
        first = client.get_execution_history(executionArn=execution)["events"][0]
        assert first["type"] == "ExecutionStarted" and first["timestamp"].tzinfo is not None


def test_moto_still_answers_the_whole_history_whatever_page_is_asked():
    """The day moto reads maxResults, `_history_read_a_page_at_a_time` need only answer fast."""
    from moto import mock_aws

    with mock_aws(config=MOTO_CONFIG):
        client, execution = _ended_execution()
        page = client.get_execution_history(executionArn=execution, maxResults=5, reverseOrder=True)
        assert len(page["events"]) > 20 and page["events"][0]["id"] == 1 and "nextToken" not in page


# ------------------------------------------------------------ a follower's pause, ended by an ending


def test_a_followers_pause_ends_when_an_execution_ends():
    """The pause lasts until an execution ends, not its whole length: the local runner
    notices a run's end at once instead of up to its longest pause later."""
    import threading

    from arazzo_sfn.engine import until_an_execution_ends

    with local_aws(LocalFunctions()):
        client = boto3.client("stepfunctions", region_name=REGION)
        machine = client.create_state_machine(name="passes", definition=json.dumps(PASSES), roleArn=ROLE)["stateMachineArn"]
        pause = until_an_execution_ends()
        paused = threading.Thread(target=pause, args=(600,), daemon=True)
        paused.start()
        execution = client.start_execution(stateMachineArn=machine, name="first", input="{}")["executionArn"]
        paused.join(timeout=120)  # far less than the 600 s asked for, on any machine
        assert not paused.is_alive()
        assert ended(client, execution)["status"] == "SUCCEEDED"
        # An ending since the last pause ends the next one at once.
        ended(client, client.start_execution(stateMachineArn=machine, name="second", input="{}")["executionArn"])
        again = threading.Thread(target=pause, args=(600,), daemon=True)
        again.start()
        again.join(timeout=120)
        assert not again.is_alive()


# ------------------------------------------------------------ intrinsic functions' string literals

# In a string literal \' \{ \} \\ stand for ' { } \ (the Step Functions developer guide,
# "Intrinsic functions", reserved characters); each function below is the field's value, as
# the compiler writes it, with AWS's answer for {"a": "bolt"}.
AWS_ANSWERS = {
    r"States.Format('it\'s \{x\} for {}', $.a)": "it's {x} for bolt",
    r"States.Format('a\\b {} \\{}', $.a, $.a)": "a\\b bolt \\bolt",
    r"States.Format('{}: {}', States.Format('\{{}\}', $.a), 'x\'y')": "{bolt}: x'y",
    "States.Format('one\ntwo {}', $.a)": "one\ntwo bolt",
    r"States.Array('it\'s', '\{\}', $.a)": ["it's", "{}", "bolt"],
    r"""States.StringToJson('\{"k": "it\'s"\}')""": {"k": "it's"},
}


def _evaluated(function: str, given: dict | None = None) -> tuple[str, object]:
    """("SUCCEEDED", the function's value) for a Pass state that evaluates it with `given` as
    its input ({"a": "bolt"} unless given), or (error, cause)."""
    client = boto3.client("stepfunctions", region_name=REGION)
    machine = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"value.$": function}, "End": True}}}
    arn = client.create_state_machine(name="evaluate", definition=json.dumps(machine), roleArn=ROLE)["stateMachineArn"]
    description = ended(client, client.start_execution(stateMachineArn=arn, input=json.dumps(given or {"a": "bolt"}))["executionArn"])
    client.delete_state_machine(stateMachineArn=arn)
    if description["status"] == "SUCCEEDED":
        return "SUCCEEDED", json.loads(description["output"])["value"]
    return description.get("error", ""), description.get("cause", "")


@pytest.mark.parametrize("function", AWS_ANSWERS)
def test_an_intrinsic_functions_escapes_stand_for_the_characters_during_a_run(function):
    with local_aws(LocalFunctions()):
        assert _evaluated(function) == ("SUCCEEDED", AWS_ANSWERS[function])


def test_a_format_template_read_from_a_path_is_still_filled():
    with local_aws(LocalFunctions()):
        assert _evaluated("States.Format($.template, $.a)", {"template": "Hello, {}.", "a": "bolt"}) == ("SUCCEEDED", "Hello, bolt.")


def test_moto_still_reads_an_intrinsic_functions_escapes_as_written():
    """The day moto reads a quote and braces escaped in a literal as AWS does,
    `_intrinsic_strings_read_as_aws_does` can go (LocalStack issue #13425)."""
    from moto import mock_aws

    with mock_aws(config=MOTO_CONFIG):
        # The literal ends at the escaped quote, its backslash kept (doubled, as the JSON text has it).
        assert _evaluated(r"States.Format('it\'s for {}', $.a)") == ("SUCCEEDED", "it\\\\")
        # The escaped braces reach Python's str.format, backslashes and all.
        error, cause = _evaluated(r"States.Format('\{x\} for {}', $.a)")
        assert (error, "KeyError" in cause) == ("States.Runtime", True), cause
