"""The commands that operate runs on AWS (start, watch, status, list, request), in-process
against moto: the run's state machine created from the committed definition, a stack whose
outputs name it (CloudFormation answered through botocore's Stubber, which checks each answer
against the API's model: moto's CloudFormation needs packages this project does not
install), and EventBridge. moto starts no Lambda here: an execution stays RUNNING
until the test stops it, which is what attaching and watching need."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import boto3
import pytest
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
        definition = re.sub(r"\$\{(\w+)\}", lambda m: f"arn:aws:lambda:{REGION}:123456789012:function:{m.group(1)}",
                            (ROOT / "statemachine" / "reset_and_resync.asl.json").read_text())
        arn = client.create_state_machine(name="airbyte-resync-run", definition=definition,
                                          roleArn="arn:aws:iam::123456789012:role/run")["stateMachineArn"]
        monkeypatch.setattr(operate.boto3, "client", stacks_answering(arn, operate.boto3.client))
        yield client, arn


def stacks_answering(arn: str, make_client):
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
                                {"OutputKey": "StateMachineArn", "OutputValue": arn}]}]}, {"StackName": StackName})
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


def test_start_starts_one_execution_per_connection_with_its_input(aws, capsys):
    client, arn = aws
    code, out, _ = run(capsys, "start", "--connection-id", FIRST, "--connection-id", SECOND, "--stack-name", "airbyte-resync",
                       "--poll-interval", "30", "--json")
    assert code == 0
    started = json.loads(out)
    assert [item["connectionId"] for item in started] == [FIRST, SECOND] and not any(item["attached"] for item in started)
    inputs = [json.loads(client.describe_execution(executionArn=item["executionArn"])["input"]) for item in started]
    assert inputs == [{"connectionId": FIRST, "pollIntervalSeconds": 30}, {"connectionId": SECOND, "pollIntervalSeconds": 30}]


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


def test_request_puts_the_documented_event(aws, capsys):
    events = boto3.client("events")
    queue = boto3.client("sqs").create_queue(QueueName="seen")["QueueUrl"]
    queue_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="reset-requested", EventPattern=json.dumps({"detail-type": ["Airbyte Connection Reset Requested"]}))
    events.put_targets(Rule="reset-requested", Targets=[{"Id": "queue", "Arn": queue_arn}])

    code, out, _ = run(capsys, "request", "--connection-id", FIRST, "--no-wait-for-resync")

    assert code == 0 and out.startswith("requested: event ")
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Airbyte Connection Reset Requested"
    assert event["detail"] == {"connectionId": FIRST, "waitForResync": False}
    assert out.split()[2].rstrip(";") == event["id"]
