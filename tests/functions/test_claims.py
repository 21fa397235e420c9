"""One run per connection: the claim the first step takes, against moto's DynamoDB and
Step Functions (the same calls the function makes on AWS)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import boto3
import pytest

from airbyte_client import claims
from airbyte_client.claims import claim_connection
from airbyte_client.errors import AirbyteConfigurationError, ConnectionBusy
from airbyte_resync.stub import AirbyteStub
from arazzo_runtime.payload import PAYLOAD_VERSION
from tests.functions.conftest import REGION, create_holding_machine
from tests.lambda_context import LambdaContext

TABLE = "claims-under-test"
CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
OTHER_CONNECTION_ID = "0b5f7c8e-0000-4000-8000-000000000000"


@pytest.fixture
def aws(moto_aws, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    claims.forget_claim_clients()
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield Executions()
    claims.forget_claim_clients()


class Executions:
    """Real executions in moto's Step Functions, to hold claims."""

    def __init__(self):
        self.client, self.machine = create_holding_machine()
        self.count = 0

    def start(self) -> str:
        self.count += 1
        return self.client.start_execution(stateMachineArn=self.machine, name=f"run-{self.count}")["executionArn"]

    def stop(self, arn: str) -> None:
        self.client.stop_execution(executionArn=arn)

    def holder(self, connection_id: str = CONNECTION_ID) -> str | None:
        item = boto3.client("dynamodb", region_name=REGION).get_item(
            TableName=TABLE, Key={"id": {"S": f"connection#{connection_id}"}}
        ).get("Item")
        return item["executionArn"]["S"] if item else None


def test_the_first_execution_claims_the_connection(aws):
    first = aws.start()

    claim_connection(CONNECTION_ID, first)

    assert aws.holder() == first


def test_a_second_running_execution_is_refused_naming_the_holder(aws):
    first, second = aws.start(), aws.start()
    claim_connection(CONNECTION_ID, first)

    with pytest.raises(ConnectionBusy) as refused:
        claim_connection(CONNECTION_ID, second)

    assert CONNECTION_ID in str(refused.value) and first in str(refused.value)
    assert aws.holder() == first


def test_a_retry_of_the_holding_execution_keeps_its_claim(aws):
    first = aws.start()
    claim_connection(CONNECTION_ID, first)

    claim_connection(CONNECTION_ID, first)

    assert aws.holder() == first


@pytest.mark.parametrize("end", ["aborted", "never existed", "not an execution ARN"])
def test_a_claim_whose_execution_ended_is_taken_over(aws, end):
    first, second = aws.start(), aws.start()
    if end == "aborted":
        claim_connection(CONNECTION_ID, first)
        aws.stop(first)
    elif end == "never existed":
        claim_connection(CONNECTION_ID, first.replace(":run-1", ":deleted-long-ago"))
    else:
        claim_connection(CONNECTION_ID, "local-run-without-an-arn")

    claim_connection(CONNECTION_ID, second)

    assert aws.holder() == second


def test_claims_of_other_connections_do_not_interfere(aws):
    first, second = aws.start(), aws.start()
    claim_connection(CONNECTION_ID, first)

    claim_connection(OTHER_CONNECTION_ID, second)

    assert (aws.holder(), aws.holder(OTHER_CONNECTION_ID)) == (first, second)


def test_a_claim_taken_over_in_between_is_not_overwritten(aws, monkeypatch):
    # Two runs find the same ended holder; the slower one must see that the other took over.
    ended, faster, slower = aws.start(), aws.start(), aws.start()
    claim_connection(CONNECTION_ID, ended)
    aws.stop(ended)
    really_running = claims._still_running
    raced = []

    def faster_takes_over_first(execution_arn):
        verdict = really_running(execution_arn)
        if not raced:  # the slower run has just found the ended holder
            raced.append(True)
            claim_connection(CONNECTION_ID, faster)
        return verdict

    monkeypatch.setattr(claims, "_still_running", faster_takes_over_first)

    with pytest.raises(ConnectionBusy, match=faster):
        claim_connection(CONNECTION_ID, slower)
    assert aws.holder() == faster


def test_without_a_table_or_an_execution_nothing_is_claimed(aws, monkeypatch):
    first = aws.start()
    claim_connection(CONNECTION_ID, None)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "")
    claim_connection(CONNECTION_ID, first)

    assert aws.holder() is None


def test_a_missing_table_is_a_configuration_error(aws, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "no-such-table")

    with pytest.raises(AirbyteConfigurationError, match="no-such-table"):
        claim_connection(CONNECTION_ID, aws.start())


def test_the_get_connection_function_claims_before_it_asks_airbyte(aws, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "lambda_function_get_connection_claims_app", Path(__file__).resolve().parents[2] / "functions" / "get_connection" / "app.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first, second = aws.start(), aws.start()
    with AirbyteStub() as stub:
        monkeypatch.setenv("AIRBYTE_API_URL", stub.url)
        monkeypatch.setenv("AIRBYTE_SECRET_ID", "")

        def event(execution_arn):
            return {
                "payloadVersion": PAYLOAD_VERSION,
                "step": "checkConnection",
                "operationId": "getConnection",
                "source": "airbyteApi",
                "request": {"method": "GET", "path": "/connections/{connectionId}", "pathParameters": {"connectionId": CONNECTION_ID}},
                "executionId": execution_arn,
            }

        answer = module.lambda_handler(event(first), LambdaContext())
        with pytest.raises(ConnectionBusy):
            module.lambda_handler(event(second), LambdaContext())

        assert answer["statusCode"] == 200 and answer["body"]["status"] == "active"
        assert [call.operation_id for call in stub.calls] == ["getConnection"]  # the refused run asked nothing
    assert aws.holder() == first
