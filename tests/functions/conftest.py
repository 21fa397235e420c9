"""What the functions' tests share: moto's AWS, and a state machine whose executions hold."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
# Executions stay RUNNING in moto (its engine is off here), like a run polling its reset.
HOLDING_DEFINITION = json.dumps({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}}})


@pytest.fixture
def moto_aws(monkeypatch):
    """moto's AWS, with the region and (fake) credentials a function finds in Lambda."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def create_holding_machine(name: str = "ResetAndResync") -> tuple[object, str]:
    """A Step Functions client and the ARN of a state machine whose executions hold."""
    client = boto3.client("stepfunctions", region_name=REGION)
    arn = client.create_state_machine(name=name, definition=HOLDING_DEFINITION, roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    return client, arn


@pytest.fixture
def cold_start():
    """The test starts like a fresh Lambda environment: no cached client, token or secret."""
    from aws_lambda_powertools.utilities import parameters

    from airbyte_client import handler

    handler.forget_clients()
    parameters.clear_caches()
    yield
    handler.forget_clients()
    parameters.clear_caches()
