"""One run per connection: an execution claims the connection before it looks at Airbyte.

Airbyte's job list alone cannot keep two runs apart: two executions started in the same
second both see the connection idle, and both reset it. So the first step writes a claim
item (`connection#<id>` -> the execution's ARN) with a conditional put, which DynamoDB
grants to exactly one writer. A claim is held for as long as its execution runs: there is
nothing to release, and an execution that ended in any way (succeeded, failed, aborted,
timed out) frees the connection at once, because the next claimant asks Step Functions
whether the holder still runs and takes the claim over from a holder that does not.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from airbyte_client.errors import AirbyteConfigurationError, ConnectionBusy, TransientAirbyteError

# Only a clean-up: a Standard execution lives at most a year, so no running holder's claim
# can expire under it.
CLAIM_LIFETIME_SECONDS = 366 * 24 * 3600
# A round either takes the claim or finds who holds it. Only a holder that has ended calls
# for another round (to take over from it), and a rival may take over first; three rounds
# settle that, and a connection contested harder than that is busy anyway.
MAX_ROUNDS = 3
_clients: dict[str, Any] = {}


def claim_connection(connection_id: str, execution_arn: str | None) -> None:
    """Claim the connection for this execution, or raise ConnectionBusy naming the running
    execution that holds it. Claims live in the table named by IDEMPOTENCY_TABLE; without
    one (or outside Step Functions, with no execution ARN) there is nothing to claim with."""
    table = os.environ.get("IDEMPOTENCY_TABLE", "").strip()
    if not table or execution_arn is None:
        return
    key = {"id": {"S": f"connection#{connection_id}"}}
    item = {
        **key,
        "executionArn": {"S": execution_arn},
        "claimedAt": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
        "expiration": {"N": str(int(time.time()) + CLAIM_LIFETIME_SECONDS)},
    }
    ended_holder = None
    for _ in range(MAX_ROUNDS):
        condition = "attribute_not_exists(id) OR executionArn = :me"
        values = {":me": {"S": execution_arn}}
        if ended_holder:
            condition += " OR executionArn = :ended"
            values[":ended"] = {"S": ended_holder}
        try:
            aws_client("dynamodb").put_item(TableName=table, Item=item, ConditionExpression=condition, ExpressionAttributeValues=values)
            return
        except Exception as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise _storage_error(error, table) from None
        holder = _holder(table, key)
        if holder is None:
            continue  # the holder's claim vanished meanwhile: try again
        if _still_running(holder):
            raise ConnectionBusy(
                f"connection {connection_id} is being reset and re-synced by execution {holder}; "
                "this run started nothing. Start it again once that execution has ended."
            )
        ended_holder = holder
    raise ConnectionBusy(f"connection {connection_id} was claimed by other executions {MAX_ROUNDS} times in a row; this run started nothing")


def _holder(table: str, key: dict[str, Any]) -> str | None:
    try:
        answer = aws_client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)
    except Exception as error:
        raise _storage_error(error, table) from None
    holder = answer.get("Item", {}).get("executionArn", {}).get("S")
    return holder if isinstance(holder, str) else None


def _still_running(execution_arn: str) -> bool:
    try:
        status = aws_client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
    except Exception as error:
        code = _error_code(error)
        if code in ("ExecutionDoesNotExist", "InvalidArn"):
            return False  # no execution by that name can be running
        if code in ("AccessDeniedException", "AccessDenied"):
            raise AirbyteConfigurationError(
                f"this function may not read execution {execution_arn} (states:DescribeExecution), "
                "so it cannot tell whether that run still holds the connection"
            ) from None
        raise TransientAirbyteError(f"could not read execution {execution_arn}: {code or type(error).__name__}") from None
    return status in ("RUNNING", "PENDING_REDRIVE")


def _storage_error(error: Exception, table: str) -> Exception:
    code = _error_code(error)
    if code in ("AccessDeniedException", "ResourceNotFoundException"):
        return AirbyteConfigurationError(f"cannot claim the connection in table {table}: {code}")
    return TransientAirbyteError(f"cannot claim the connection in table {table}: {code or type(error).__name__}")


def _error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def aws_client(service: str) -> Any:
    """The AWS client of `service`, created on first use and kept for warm invocations (the
    claims, and the trigger functions' notes of what they may have created); boto3 is
    imported only by a function that uses one."""
    if service not in _clients:
        import boto3

        _clients[service] = boto3.client(service)
    return _clients[service]


def forget_claim_clients() -> None:
    """Drop the cached AWS clients, as a cold start would (tests switch AWS endpoints)."""
    _clients.clear()
