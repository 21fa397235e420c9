"""The commands that operate runs on AWS (start, watch, status, list, request, redrive), in-process
against moto: the state machines created from the SAM-transformed template, a stack whose
outputs name it (CloudFormation answered through botocore's Stubber, which checks each answer
against the API's model: moto's CloudFormation needs packages this project does not
install), and EventBridge. moto starts no Lambda here: an execution stays RUNNING
until the test stops it, which is what attaching and watching need."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from airbyte_resync import cli, operate

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
FIRST = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
SECOND = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setattr(operate, "WATCH_PAUSE_SECONDS", 0.05)
    with mock_aws():
        client = boto3.client("stepfunctions")
        machines = create_state_machines(client)
        arn = machines["ResetAndResyncStateMachine"]
        fleet = machines.get("ResetAndResyncFleetStateMachine") or client.create_state_machine(
            name="airbyte-resync-ResetAndResyncFleetStateMachine", roleArn="arn:aws:iam::123456789012:role/FleetRole",
            definition=json.dumps({"StartAt": "Run", "States": {"Run": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
        monkeypatch.setattr(operate.boto3, "client", stacks_answering(arn, operate.boto3.client, fleet))
        yield client, arn


def create_state_machines(client) -> dict[str, str]:
    """Each state machine of the SAM-transformed template, created in moto as CloudFormation
    would create it: its DefinitionUri's file with the transformed resource's
    DefinitionSubstitutions resolved (a function to its ARN, a state machine to the ARN of the
    one created before it, a table to its name). Logical id -> ARN."""
    from airbyte_resync.template import load_template
    from tests.template.test_template import translate

    sources = load_template(ROOT / "template.yaml")["Resources"]
    resources = translate({})["Resources"]
    pending = {name: resource["Properties"] for name, resource in resources.items() if resource["Type"] == "AWS::StepFunctions::StateMachine"}
    created: dict[str, str] = {}
    while pending:
        for name, properties in list(pending.items()):
            values = {}
            for placeholder, value in properties.get("DefinitionSubstitutions", {}).items():
                if "Ref" in value and value["Ref"] in pending:
                    break  # a state machine not created yet
                if "Ref" in value and value["Ref"] not in created:  # a table: its name
                    values[placeholder] = f"airbyte-resync-{value['Ref']}"
                    continue
                values[placeholder] = created[value["Ref"]] if "Ref" in value else \
                    f"arn:aws:lambda:{REGION}:123456789012:function:airbyte-resync-{value['Fn::GetAtt'][0]}"
            else:
                asl = (ROOT / sources[name]["Properties"]["DefinitionUri"]).read_text()
                definition = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], asl)  # noqa: B023 - re.sub calls it at once
                created[name] = client.create_state_machine(name=f"airbyte-resync-{name}", definition=definition,
                                                            roleArn=f"arn:aws:iam::123456789012:role/{name}Role")["stateMachineArn"]
                del pending[name]
    return created


def stacks_answering(arn: str, make_client, fleet_arn: str):
    """boto3.client, but CloudFormation knows one stack, `airbyte-resync`, with its outputs."""

    def client(service: str, *args, **kwargs):
        made = make_client(service, *args, **kwargs)
        if service != "cloudformation":
            return made
        stubber = Stubber(made)
        original = made.describe_stacks

        def describe_stacks(StackName):
            if StackName == "airbyte-resync":
                stubber.add_response("describe_stacks", {"Stacks": [{
                    "StackName": StackName, "CreationTime": "2026-12-01T09:00:00Z", "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": "WaitForJobStateMachineArn", "OutputValue": arn + "-child"},
                                {"OutputKey": "StateMachineArn", "OutputValue": arn},
                                {"OutputKey": "ResetAndResyncFleetStateMachineArn", "OutputValue": fleet_arn}]}]}, {"StackName": StackName})
            else:
                stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {StackName} does not exist", 400)
            with stubber:
                return original(StackName=StackName)

        made.describe_stacks = describe_stacks
        return made

    return client


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_several_connections_start_one_fleet_execution_of_the_stacks_fleet_machine(aws, capsys):
    client, arn = aws
    code, out, _ = run(capsys, "start", "--connection-id", FIRST, "--connection-id", SECOND, "--stack-name", "airbyte-resync",
                       "--poll-interval", "30", "--json")
    assert code == 0
    started = json.loads(out)
    assert started["connectionId"] is None and not started["attached"] and ":execution:airbyte-resync-ResetAndResyncFleetStateMachine:" in started["executionArn"]
    assert json.loads(client.describe_execution(executionArn=started["executionArn"])["input"]) == {
        "connectionIds": [FIRST, SECOND], "pollIntervalSeconds": 30}
    assert client.list_executions(stateMachineArn=arn)["executions"] == []  # no run of its own for either connection


def test_list_fleet_lists_the_stacks_fleet_machine(aws, capsys):
    client, arn = aws
    code, out, _ = run(capsys, "start", "--workspace-id", "11111111-2222-4333-8444-555555555555", "--stack-name", "airbyte-resync", "--json")
    fleet = json.loads(out)["executionArn"]
    single = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]

    code, out, _ = run(capsys, "list", "--stack-name", "airbyte-resync", "--fleet")
    assert code == 0 and fleet in out and "fleet: 1 workspaces" in out and single not in out
    code, out, _ = run(capsys, "list", "--stack-name", "airbyte-resync", "--json")
    assert code == 0 and [item["executionArn"] for item in json.loads(out)] == [single]


def test_starting_the_same_connection_twice_attaches_to_the_running_execution(aws, capsys):
    client, arn = aws
    run(capsys, "start", "--connection-id", FIRST, "--state-machine-arn", arn)

    code, out, _ = run(capsys, "start", "--connection-id", FIRST.upper(), "--state-machine-arn", arn)

    assert code == 0
    assert "already running, attached to" in out
    assert len(client.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_start_refuses_bad_input_before_starting_anything(aws, capsys):
    client, arn = aws
    code, _, err = run(capsys, "start", "--connection-id", FIRST, "--connection-id", "nope", "--state-machine-arn", arn)
    assert code == 2 and "--connection-id must be a UUID" in err
    assert client.list_executions(stateMachineArn=arn)["executions"] == []


def test_an_unknown_stack_is_one_line_and_exit_2(aws, capsys):
    code, _, err = run(capsys, "start", "--connection-id", FIRST, "--stack-name", "no-such-stack")
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("airbyte-resync: error: stack no-such-stack:")


def test_start_wait_watches_to_the_end_and_exits_like_run(aws, capsys):
    client, arn = aws

    def stop_soon():
        for _ in range(100):
            running = client.list_executions(stateMachineArn=arn)["executions"]
            if running:
                time.sleep(0.2)
                client.stop_execution(executionArn=running[0]["executionArn"], error="Stopped", cause="by the operator")
                return
            time.sleep(0.05)

    stopper = threading.Thread(target=stop_soon)
    stopper.start()
    code, out, _ = run(capsys, "start", "--connection-id", FIRST, "--state-machine-arn", arn, "--wait", "--json")
    stopper.join()

    assert code == 1
    document = json.loads(out)
    assert document["status"] == "ABORTED" and document["executionArn"].startswith(arn.replace(":stateMachine:", ":execution:"))


def test_status_exits_3_while_running_and_names_the_state(aws, capsys):
    client, arn = aws
    execution = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]

    code, out, _ = run(capsys, "status", execution)
    assert code == 3 and "Execution RUNNING" in out

    client.stop_execution(executionArn=execution)
    code, out, _ = run(capsys, "status", execution, "--json")
    assert code == 1 and json.loads(out)["status"] == "ABORTED"


def test_status_of_something_that_is_not_an_execution_arn_is_refused(aws, capsys):
    code, _, err = run(capsys, "status", "arn:aws:states:us-east-1:123456789012:stateMachine:x")
    assert code == 2 and "EXECUTION_ARN must be" in err


def test_list_shows_each_execution_with_its_connection_and_filters(aws, capsys):
    client, arn = aws
    first = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]
    second = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": SECOND}))["executionArn"]
    client.stop_execution(executionArn=second)

    code, out, _ = run(capsys, "list", "--stack-name", "airbyte-resync")
    assert code == 0 and first in out and second in out and FIRST in out and SECOND in out

    _, out, _ = run(capsys, "list", "--state-machine-arn", arn, "--connection-id", SECOND)
    assert second in out and first not in out
    _, out, _ = run(capsys, "list", "--state-machine-arn", arn, "--status", "RUNNING")
    assert first in out and second not in out


def test_list_stops_at_its_limit(aws, capsys):
    client, arn = aws
    started = [client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"] for _ in range(3)]

    code, out, _ = run(capsys, "list", "--state-machine-arn", arn, "--limit", "2")

    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and lines[-1] == "(the newest 2 shown; --limit N shows more)"
    code, _, err = run(capsys, "list", "--state-machine-arn", arn, "--limit", "0")
    assert code == 2 and "--limit must be between 1 and 10000" in err
    assert len(started) == 3


RUN_FIELDS = {"executionArn", "name", "connectionId", "status", "startDate", "stopDate", "error", "cause", "output", "events"}


def test_every_json_run_names_its_execution_and_connection(aws, capsys):
    client, arn = aws
    code, out, _ = run(capsys, "start", "--connection-id", FIRST, "--state-machine-arn", arn, "--json")
    started = json.loads(out)
    assert code == 0 and set(started) == RUN_FIELDS | {"attached"}
    execution = started["executionArn"]
    assert (started["connectionId"], started["status"], started["name"]) == (FIRST, "RUNNING", execution.rsplit(":", 1)[1])
    client.stop_execution(executionArn=execution, error="Stopped", cause="by the operator")

    _, out, _ = run(capsys, "status", execution, "--json")
    status = json.loads(out)
    assert set(status) == RUN_FIELDS
    assert (status["executionArn"], status["connectionId"], status["status"]) == (execution, FIRST, "ABORTED")
    assert status["startDate"] <= status["stopDate"] and status["events"] > 0

    other = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": SECOND}))["executionArn"]
    code, out, _ = run(capsys, "list", "--state-machine-arn", arn, "--json")
    listed = json.loads(out)
    assert code == 0 and all(set(item) == RUN_FIELDS for item in listed)
    assert {(item["executionArn"], item["connectionId"]) for item in listed} == {(execution, FIRST), (other, SECOND)}
    _, out, _ = run(capsys, "list", "--state-machine-arn", arn, "--connection-id", SECOND, "--json")
    assert [item["executionArn"] for item in json.loads(out)] == [other]


@pytest.fixture
def no_region(monkeypatch, tmp_path):
    """A shell where no AWS Region is set: no variable, no config file naming one."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


@pytest.mark.parametrize("argv", [
    ["list", "--stack-name", "airbyte-resync"],
    ["start", "--connection-id", FIRST, "--stack-name", "airbyte-resync"],
    ["request", "--connection-id", FIRST],
])
def test_without_a_region_a_command_says_so_in_one_line(aws, no_region, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("airbyte-resync: error: no AWS Region: set AWS_REGION")


def test_without_a_region_the_execution_arn_names_it(aws, no_region, capsys):
    client, arn = aws
    execution = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]
    client.stop_execution(executionArn=execution)
    code, out, _ = run(capsys, "status", execution, "--json")
    assert code == 1 and json.loads(out)["status"] == "ABORTED"
    code, out, _ = run(capsys, "list", "--state-machine-arn", arn, "--json")
    assert code == 0 and [item["executionArn"] for item in json.loads(out)] == [execution]


def queue_of(detail_type: str) -> str:
    """A queue that an EventBridge rule sends every event of `detail_type` to: its URL."""
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    events.put_rule(Name="requested", EventPattern=json.dumps({"detail-type": [detail_type]}))
    events.put_targets(Rule="requested", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue


def the_one_event(queue: str) -> dict:
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    return json.loads(message["Body"])


def test_request_puts_the_documented_event(aws, capsys):
    queue = queue_of("Airbyte Connection Reset Requested")

    code, out, _ = run(capsys, "request", "--connection-id", FIRST, "--no-wait-for-resync")

    assert code == 0 and out.startswith("requested: event ")
    event = the_one_event(queue)
    assert event["detail-type"] == "Airbyte Connection Reset Requested"
    assert event["detail"] == {"connectionId": FIRST, "waitForResync": False}
    assert out.split()[2].rstrip(";") == event["id"]


def test_request_of_a_selection_puts_the_fleet_event(aws, capsys):
    queue = queue_of("Airbyte Connections Reset Requested")
    workspace, tag = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-8999-aaaaaaaaaaaa"

    code, out, _ = run(capsys, "request", "--workspace-id", workspace, "--tag-id", tag, "--max-concurrent", "20", "--tolerated-failures", "2")

    assert code == 0 and out.startswith("requested: fleet event ")
    event = the_one_event(queue)
    assert event["detail-type"] == "Airbyte Connections Reset Requested" and event["source"] == "airbyte-resync.cli"
    assert event["detail"] == {"workspaceIds": [workspace], "tagIds": [tag], "maxConcurrent": 20, "toleratedFailures": 2}


def test_request_refuses_a_bad_selection_before_putting_anything(aws, capsys):
    code, out, err = run(capsys, "request", "--connection-id", FIRST, "--connection-id", SECOND, "--max-concurrent", "1001")
    assert code == 2 and out == "" and "--max-concurrent must be between 1 and 1000, got 1001" in err


# ------------------------------------------------------------------------------ redrive
# moto has no RedriveExecution, and its histories of executions it does not run are canned:
# the redrive below does what Step Functions does to the execution's status (RUNNING again,
# same ARN), and each test gives the history the execution ended with.


def test_moto_still_has_no_redrive_execution(aws):
    # When this fails, moto redrives: the stand-in in `redrivable` can go.
    client, arn = aws
    execution = aborted_run(client, arn)
    with pytest.raises(NotImplementedError):
        client.redrive_execution(executionArn=execution)


def ended_at(state_type: str, state: str, end: str) -> list[dict]:
    """The history of a run that entered `state` (after its first step) and then ended."""
    steps = [("TaskStateEntered", "checkConnection"), ("TaskStateExited", "checkConnection"), (state_type, state)]
    history = [{"id": 1, "type": "ExecutionStarted", "timestamp": 0}]
    for number, (kind, name) in enumerate(steps, start=2):
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        history.append({"id": number, "type": kind, "timestamp": 0, key: {"name": name}})
    return history + [{"id": len(history) + 1, "type": end, "timestamp": 0}]


@pytest.fixture
def redrivable(aws, monkeypatch):
    """(client, arn, histories, redriven, on_redrive, described): set histories[execution] to
    what it ended with, described[execution] to fields its description has besides moto's;
    redriven lists the executions redriven; on_redrive[0], if set, runs during the redrive."""
    from moto.stepfunctions.models import stepfunctions_backends

    client, arn = aws
    histories: dict[str, list[dict]] = {}
    described: dict[str, dict] = {}
    redriven: list[str] = []
    on_redrive: list = []
    real_history = operate.history_of
    monkeypatch.setattr(operate, "history_of", lambda c, execution: histories.get(execution) or real_history(c, execution))

    def redrive_execution(executionArn):
        redriven.append(executionArn)
        execution = stepfunctions_backends["123456789012"][REGION].describe_execution(executionArn)
        execution.status, execution.stop_date = "RUNNING", None
        if on_redrive:
            on_redrive[0]()
        return {"redriveDate": "2026-12-06T10:00:00Z"}

    made = operate.boto3.client

    def client_with_redrive(service, *args, **kwargs):
        made_client = made(service, *args, **kwargs)
        if service == "stepfunctions":
            made_client.redrive_execution = redrive_execution
            describe = made_client.describe_execution
            made_client.describe_execution = lambda executionArn: {
                **describe(executionArn=executionArn), **described.get(executionArn, {})}
        return made_client

    monkeypatch.setattr(operate.boto3, "client", client_with_redrive)
    return client, arn, histories, redriven, on_redrive, described


def aborted_run(client, arn, connection=FIRST) -> str:
    execution = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": connection}))["executionArn"]
    client.stop_execution(executionArn=execution, error="Stopped", cause="by the operator")
    return execution


def test_redrive_resumes_an_aborted_run_at_the_state_it_stopped_in(redrivable, capsys):
    client, arn, histories, redriven, _, _ = redrivable
    execution = aborted_run(client, arn)
    histories[execution] = ended_at("TaskStateEntered", "waitForResetJob", "ExecutionAborted")

    code, out, _ = run(capsys, "redrive", execution)

    assert code == 0 and redriven == [execution]
    assert out == f"{FIRST}: redriven {execution}, resuming at waitForResetJob\n"
    assert client.describe_execution(executionArn=execution)["status"] == "RUNNING"
    code, out, _ = run(capsys, "status", execution)
    assert code == 3


def test_runs_before_the_redriven_one_do_not_matter(redrivable, capsys):
    client, arn, histories, redriven, _, _ = redrivable
    aborted_run(client, arn)  # the same connection, before
    time.sleep(0.01)
    execution = aborted_run(client, arn)
    histories[execution] = ended_at("TaskStateEntered", "waitForResetJob", "ExecutionAborted")

    code, _, err = run(capsys, "redrive", execution)

    assert (code, err) == (0, "") and redriven == [execution]


def test_redrive_refuses_a_run_that_ended_at_a_fail_state(redrivable, capsys):
    client, arn, histories, redriven, _, described = redrivable
    execution = aborted_run(client, arn)
    histories[execution] = ended_at("FailStateEntered", "ResetFailed", "ExecutionFailed")
    described[execution] = {"status": "FAILED", "error": "ResetFailed", "redriveStatus": "REDRIVABLE"}

    code, _, err = run(capsys, "redrive", execution)

    assert code == 2 and redriven == []
    [line] = err.strip().splitlines()
    assert "Fail state ResetFailed (ResetFailed): a redrive would end there again" in line
    assert f"airbyte-resync start --connection-id {FIRST} --state-machine-arn {arn}" in line


def test_redrive_refuses_when_the_connection_has_had_another_run_since(redrivable, capsys):
    client, arn, histories, redriven, _, _ = redrivable
    execution = aborted_run(client, arn)
    histories[execution] = ended_at("TaskStateEntered", "waitForResetJob", "ExecutionAborted")
    later = aborted_run(client, arn)  # same connection, started after
    aborted_run(client, arn, connection=SECOND)  # another connection's run does not matter

    code, _, err = run(capsys, "redrive", execution)

    assert code == 2 and redriven == []
    assert f"connection {FIRST} has had execution {later} (ABORTED) since this one started" in err


def test_redrive_refuses_what_step_functions_cannot_redrive(redrivable, capsys):
    client, arn, _, redriven, _, described = redrivable
    running = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]
    old = aborted_run(client, arn, connection=SECOND)
    described[old] = {"redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": "Execution redrivable period exceeded."}

    code, _, err = run(capsys, "redrive", running)
    assert code == 2 and "Step Functions cannot redrive" in err and "Execution is RUNNING and cannot be redriven" in err
    assert "start a new run instead" in err

    code, _, err = run(capsys, "redrive", old)
    assert code == 2 and "Execution redrivable period exceeded; start a new run instead" in err
    assert redriven == []


def test_a_run_started_during_the_redrive_stops_the_redriven_execution(redrivable, capsys):
    client, arn, histories, redriven, on_redrive, _ = redrivable
    execution = aborted_run(client, arn)
    histories[execution] = ended_at("TaskStateEntered", "waitForResetJob", "ExecutionAborted")
    rival = []
    on_redrive.append(lambda: rival.append(
        client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]))

    code, _, err = run(capsys, "redrive", execution)

    assert code == 2 and redriven == [execution]
    assert f"execution {rival[0]} started on connection {FIRST}" in err and "was stopped again" in err
    assert client.describe_execution(executionArn=execution)["status"] == "ABORTED"
    assert client.describe_execution(executionArn=rival[0])["status"] == "RUNNING"


# --------------------------------------------------------------------- watching retries


def test_watch_shows_each_failed_attempt_with_when_the_next_comes(aws, capsys, monkeypatch):
    client, arn = aws
    execution = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]
    client.stop_execution(executionArn=execution, error="Stopped", cause="by the operator")
    start = client.describe_execution(executionArn=execution)["startDate"]

    def event(number, kind, **details):
        return {"id": number, "type": kind, "timestamp": start, **details}

    refused = json.dumps({"errorType": "TransientAirbyteError", "errorMessage": "getConnection: refused by 127.0.0.1:9"})
    history = [
        event(1, "ExecutionStarted"),
        event(2, "TaskStateEntered", stateEnteredEventDetails={"name": "checkConnection"}),
        event(3, "TaskFailed", taskFailedEventDetails={"error": "TransientAirbyteError", "cause": refused}),
        event(4, "TaskFailed", taskFailedEventDetails={"error": "Lambda.ServiceException", "cause": "Lambda is unavailable"}),
        event(5, "TaskFailed", taskFailedEventDetails={"error": "TransientAirbyteError", "cause": refused}),
        event(6, "ExecutionAborted"),
    ]
    monkeypatch.setattr(operate, "history_of", lambda c, arn_: history)

    code, out, _ = run(capsys, "watch", execution)

    assert code == 1
    failures = [line.strip() for line in out.splitlines() if line.strip().startswith("checkConnection:")]
    # Read from the deployed definition's Retry; each retrier counts its own retries.
    assert failures == [
        "checkConnection: getConnection: refused by 127.0.0.1:9 -- attempt 2 of 7 in at most 5 s",
        "checkConnection: Lambda is unavailable -- attempt 2 of 7 in 2 s",
        "checkConnection: getConnection: refused by 127.0.0.1:9 -- attempt 3 of 7 in at most 10 s",
    ]
    assert out.startswith(f"Connection {FIRST}: {execution}\n")


def test_watch_follows_wait_for_job_for_the_job_status_and_its_failed_polls(aws, capsys, monkeypatch):
    client, arn = aws
    execution = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]
    client.stop_execution(executionArn=execution, error="Stopped", cause="by the operator")
    start = client.describe_execution(executionArn=execution)["startDate"]
    child = arn.replace(":stateMachine:airbyte-resync-ResetAndResyncStateMachine", ":execution:airbyte-resync-WaitForJobStateMachine:waitForReset-1")

    def event(number, seconds, kind, **details):
        return {"id": number, "type": kind, "timestamp": start + timedelta(seconds=seconds), **details}

    def exited(name, answer):
        return {"stateExitedEventDetails": {"name": name, "output": json.dumps({"steps": {name: answer}})}}

    root = [
        event(1, 0, "ExecutionStarted"),
        event(2, 1, "TaskStateEntered", stateEnteredEventDetails={"name": "triggerReset"}),
        event(3, 2, "TaskStateExited", **exited("triggerReset", {"outputs": {"jobId": 1001}})),
        event(4, 3, "TaskStateEntered", stateEnteredEventDetails={"name": "waitForReset"}),
        event(5, 4, "TaskSubmitted", taskSubmittedEventDetails={
            "resourceType": "states", "resource": "startExecution.sync:2", "output": json.dumps({"ExecutionArn": child})}),
        event(6, 60, "ExecutionAborted"),
    ]
    refused = json.dumps({"errorType": "TransientAirbyteError", "errorMessage": "getJob: refused by airbyte.internal:443"})
    polls = [
        event(1, 5, "ExecutionStarted", executionStartedEventDetails={"input": json.dumps({"jobId": 1001})}),
        event(2, 6, "TaskStateEntered", stateEnteredEventDetails={"name": "pollJob"}),
        event(3, 7, "TaskStateExited", **exited("pollJob", {"outputs": {"status": "running"}})),
        event(4, 8, "TaskStateEntered", stateEnteredEventDetails={"name": "pollJob"}),
        event(5, 9, "TaskFailed", taskFailedEventDetails={"error": "TransientAirbyteError", "cause": refused}),
        event(6, 50, "ExecutionAborted"),
    ]
    monkeypatch.setattr(operate, "history_of", lambda c, arn_: root)
    monkeypatch.setattr(operate, "history_since", lambda c, arn_, after: [event for event in polls if event["id"] > after] if arn_ == child else [])

    code, out, _ = run(capsys, "watch", execution)

    assert code == 1
    lines = [line.split() for line in out.splitlines()]
    assert ["7.0s", "waitForReset", "1001", "running"] in lines  # the child's poll, under the step that started it
    # wait-for-job's own Retry: TransientAirbyteError every 30 s, doubling, 22 retries, full jitter.
    assert "pollJob: getJob: refused by airbyte.internal:443 -- attempt 2 of 23 in at most 30 s" in [line.strip() for line in out.splitlines()]


def test_ctrl_c_while_watching_says_the_run_goes_on(aws, capsys, monkeypatch):
    client, arn = aws
    execution = client.start_execution(stateMachineArn=arn, input=json.dumps({"connectionId": FIRST}))["executionArn"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(operate, "watch", interrupted)
    code, _, err = run(capsys, "watch", execution)

    assert code == 130
    [line] = err.strip().splitlines()
    assert line.startswith("airbyte-resync: interrupted (only the watching: what runs on AWS goes on")
    assert client.describe_execution(executionArn=execution)["status"] == "RUNNING"


def test_watching_without_leave_to_read_the_definition_still_shows_when_the_next_attempt_comes(aws, capsys, monkeypatch):
    client, arn = aws
    execution = aborted_run(client, arn)
    start = client.describe_execution(executionArn=execution)["startDate"]
    refused = json.dumps({"errorType": "TransientAirbyteError", "errorMessage": "getConnection: refused"})
    history = [
        {"id": 1, "type": "ExecutionStarted", "timestamp": start},
        {"id": 2, "type": "TaskStateEntered", "timestamp": start, "stateEnteredEventDetails": {"name": "checkConnection"}},
        {"id": 3, "type": "TaskFailed", "timestamp": start, "taskFailedEventDetails": {"error": "TransientAirbyteError", "cause": refused}},
        {"id": 4, "type": "ExecutionAborted", "timestamp": start},
    ]
    monkeypatch.setattr(operate, "history_of", lambda c, arn_: history)
    made = operate.boto3.client

    def without_describe_state_machine(service, *args, **kwargs):
        made_client = made(service, *args, **kwargs)
        if service == "stepfunctions":
            def denied(**_):
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "DescribeStateMachine")
            made_client.describe_state_machine = denied
        return made_client

    monkeypatch.setattr(operate.boto3, "client", without_describe_state_machine)
    code, out, err = run(capsys, "watch", execution)

    assert code == 1 and err == ""
    assert "checkConnection: getConnection: refused -- attempt 2 of 7 in at most 5 s" in out
