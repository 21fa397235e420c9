"""The three Lambda handlers, called as Lambda calls them, with the Airbyte stub answering
over real HTTP: the step requests the state machine sends, input refused before any call
to Airbyte, structured logs, and a client (with its token) reused by warm invocations."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from packaging.utils import canonicalize_name

from airbyte_client import handler as handler_module
from airbyte_client.errors import (
    AirbyteConfigurationError,
    InvalidInput,
    TransientAirbyteError,
    UnsupportedOperation,
)
from airbyte_resync import bundle
from airbyte_resync.bundle import layer_distributions
from airbyte_resync.stub import AirbyteStub, Fault
from arazzo_runtime import payload as payload_contract
from arazzo_runtime.errors import PayloadVersionMismatch
from arazzo_runtime.payload import PAYLOAD_VERSION
from tests.lambda_context import LambdaContext

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:airbyte-resync:run-7f3c"
# Distinctive values, so captured output can be searched for them.
CLIENT_ID = "handler-client-5e2b"
CLIENT_SECRET = "handler-secret-Rw6Ty1Gk8Zq3"
SECRET_ID = "airbyte/handler-credentials"


def load_function(name: str):
    """Import functions/<name>/app.py as Lambda would, under a name no other test uses
    (the three files are all called app.py)."""
    spec = importlib.util.spec_from_file_location(f"lambda_function_{name}_app", FUNCTIONS_DIR / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


trigger_reset = load_function("trigger_reset").lambda_handler
poll_job = load_function("poll_job").lambda_handler
trigger_resync = load_function("trigger_resync").lambda_handler


CONTEXT = LambdaContext()


def create_job_event(step: str = "triggerReset", job_type: str = "reset", connection_id=CONNECTION_ID) -> dict:
    return {
        "payloadVersion": PAYLOAD_VERSION,
        "step": step,
        "operationId": "createJob",
        "source": "airbyteApi",
        "request": {
            "method": "POST",
            "path": "/jobs",
            "contentType": "application/json",
            "body": {"connectionId": connection_id, "jobType": job_type},
        },
        "executionId": EXECUTION_ID,
    }


def get_job_event(job_id=1001, step: str = "pollReset") -> dict:
    return {
        "payloadVersion": PAYLOAD_VERSION,
        "step": step,
        "operationId": "getJob",
        "source": "airbyteApi",
        "request": {"method": "GET", "path": "/jobs/{jobId}", "pathParameters": {"jobId": job_id}},
        "executionId": EXECUTION_ID,
    }


def log_records(output: str) -> list[dict]:
    """The JSON lines Powertools wrote (log records and metric documents)."""
    records = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


# Every test starts like a fresh Lambda environment (tests/functions/conftest.py).
pytestmark = pytest.mark.usefixtures("cold_start")


@pytest.fixture
def stub(monkeypatch):
    with AirbyteStub() as running:
        monkeypatch.setenv("AIRBYTE_API_URL", running.url)
        monkeypatch.setenv("AIRBYTE_SECRET_ID", "")
        yield running


@pytest.fixture(scope="module")
def shared_stub():
    with AirbyteStub() as running:
        yield running


@pytest.fixture
def untouched_stub(shared_stub, monkeypatch):
    """For requests that must be refused before any call to Airbyte. They share one stub,
    its record cleared before each test: stopping a stub waits out its poll interval, and
    there are many of these tests."""
    shared_stub.reset_calls()
    monkeypatch.setenv("AIRBYTE_API_URL", shared_stub.url)
    monkeypatch.setenv("AIRBYTE_SECRET_ID", "")
    return shared_stub


@pytest.fixture
def credentials_stub(monkeypatch):
    """A stub that wants client credentials, and a moto secret that holds them."""
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running, mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name=SECRET_ID, SecretString=json.dumps({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})
        )
        monkeypatch.setenv("AIRBYTE_API_URL", running.url)
        monkeypatch.setenv("AIRBYTE_SECRET_ID", SECRET_ID)
        yield running


class CurrentStdout:
    """Writes to whatever sys.stdout is at the time of writing."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def logs(capsys, monkeypatch):
    """The Powertools logger's handler holds the sys.stdout of the moment the handler module
    was imported, which is not the one capsys captures; make it follow sys.stdout."""
    monkeypatch.setattr(handler_module.logger.registered_handler, "stream", CurrentStdout())
    return capsys


# ---------------------------------------------------------------- the step requests


def test_trigger_reset_creates_a_reset_job(stub):
    result = trigger_reset(create_job_event(), CONTEXT)

    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "application/json"
    assert result["body"]["jobId"] == 1001
    assert result["body"]["jobType"] == "reset"
    assert result["body"]["connectionId"] == CONNECTION_ID
    assert result["body"]["status"] == "pending"
    [call] = stub.calls
    assert (call.method, call.path, call.operation_id) == ("POST", "/jobs", "createJob")
    assert call.body == {"connectionId": CONNECTION_ID, "jobType": "reset"}
    # The result goes into the state machine's data, which must be plain JSON.
    assert json.loads(json.dumps(result)) == result


def test_trigger_resync_creates_a_sync_job(stub):
    result = trigger_resync(create_job_event(step="triggerResync", job_type="sync"), CONTEXT)

    assert result["statusCode"] == 200
    assert result["body"]["jobType"] == "sync"
    assert [call.body for call in stub.calls] == [{"connectionId": CONNECTION_ID, "jobType": "sync"}]


def test_poll_job_reads_the_job(stub):
    trigger_reset(create_job_event(), CONTEXT)
    stub.reset_calls()

    result = poll_job(get_job_event(1001), CONTEXT)

    assert result["statusCode"] == 200
    assert result["body"]["jobId"] == 1001
    assert result["body"]["status"] == "running"
    assert [(call.method, call.path, call.operation_id) for call in stub.calls] == [("GET", "/jobs/1001", "getJob")]


def test_poll_job_accepts_a_numeric_string_job_id(stub):
    trigger_reset(create_job_event(), CONTEXT)
    stub.reset_calls()

    result = poll_job(get_job_event("1001"), CONTEXT)

    assert result["body"]["jobId"] == 1001
    assert [call.path for call in stub.calls] == ["/jobs/1001"]


def test_upper_case_connection_id_is_sent_in_lower_case(stub):
    trigger_reset(create_job_event(connection_id=CONNECTION_ID.upper()), CONTEXT)

    assert stub.calls[0].body["connectionId"] == CONNECTION_ID


def test_airbyte_error_answer_is_returned_for_the_state_machine_to_judge(stub):
    # Whether a 404 is a failure is the workflow's successCriteria to decide, not the handler's.
    result = poll_job(get_job_event(4242), CONTEXT)

    assert result["statusCode"] == 404
    assert result["body"]["title"] == "resource-not-found"


def test_transient_trouble_is_raised_under_the_name_the_state_machine_retries(stub):
    stub.inject("createJob", Fault.status(503))

    with pytest.raises(TransientAirbyteError) as raised:
        trigger_reset(create_job_event(), CONTEXT)

    # Step Functions matches the Lambda error by this exact class name.
    assert type(raised.value).__name__ == "TransientAirbyteError"


def test_misconfigured_url_is_a_configuration_error_and_no_call(untouched_stub, monkeypatch):
    monkeypatch.setenv("AIRBYTE_API_URL", "http://airbyte.example.com/api/public/v1")

    with pytest.raises(AirbyteConfigurationError, match="https"):
        trigger_reset(create_job_event(), CONTEXT)

    assert untouched_stub.calls == []


# ---------------------------------------------------------------- input refused before any call


def with_body(body):
    event = create_job_event()
    event["request"]["body"] = body
    return event


def with_connection_id(connection_id):
    return with_body({"connectionId": connection_id, "jobType": "reset"})


def without_connection_id():
    return with_body({"jobType": "reset"})


def with_request(request):
    event = create_job_event()
    event["request"] = request
    return event


def with_job_id(job_id):
    return get_job_event(job_id)


def without_job_id():
    event = get_job_event()
    del event["request"]["pathParameters"]["jobId"]
    return event


def with_path_parameters(path_parameters):
    event = get_job_event()
    event["request"]["pathParameters"] = path_parameters
    return event


def with_operation_id(event, operation_id):
    event = copy.deepcopy(event)
    event["operationId"] = operation_id
    return event


CREATE_JOB_BAD_INPUT = [
    pytest.param(without_connection_id(), InvalidInput, "connectionId", id="connectionId-missing"),
    pytest.param(with_connection_id(None), InvalidInput, "connectionId", id="connectionId-null"),
    pytest.param(with_connection_id(12345), InvalidInput, "connectionId", id="connectionId-number"),
    pytest.param(with_connection_id(""), InvalidInput, "connectionId", id="connectionId-empty"),
    pytest.param(with_connection_id("not-a-uuid"), InvalidInput, "connectionId", id="connectionId-not-uuid"),
    pytest.param(with_connection_id("../../etc"), InvalidInput, "connectionId", id="connectionId-path-traversal"),
    pytest.param(with_connection_id("a" * 10_000), InvalidInput, "connectionId", id="connectionId-10000-chars"),
    pytest.param(with_connection_id(CONNECTION_ID + "x"), InvalidInput, "connectionId", id="connectionId-uuid-plus-suffix"),
    pytest.param(with_connection_id([CONNECTION_ID]), InvalidInput, "connectionId", id="connectionId-array"),
    pytest.param(with_body("connectionId=" + CONNECTION_ID), InvalidInput, "body", id="body-string"),
    pytest.param(with_body([CONNECTION_ID]), InvalidInput, "body", id="body-array"),
    pytest.param(with_body(None), InvalidInput, "body", id="body-null"),
    pytest.param(with_request("POST /jobs"), InvalidInput, "request", id="request-string"),
    pytest.param(with_request(None), InvalidInput, "request", id="request-null"),
    pytest.param(with_request([]), InvalidInput, "request", id="request-array"),
    pytest.param(None, InvalidInput, "event", id="event-null"),
    pytest.param("createJob", InvalidInput, "event", id="event-string"),
    pytest.param([create_job_event()], InvalidInput, "event", id="event-array"),
    pytest.param(with_operation_id(create_job_event(), "getJob"), UnsupportedOperation, "getJob", id="operationId-getJob"),
    pytest.param(with_operation_id(create_job_event(), None), UnsupportedOperation, "None", id="operationId-missing"),
]


@pytest.mark.parametrize(("event", "error", "named"), CREATE_JOB_BAD_INPUT)
@pytest.mark.parametrize("function", [trigger_reset, trigger_resync], ids=["trigger-reset", "trigger-resync"])
def test_bad_create_job_input_is_refused_before_any_call(untouched_stub, function, event, error, named):
    # The events carry jobType reset; trigger-resync gets sync, so only the field under test is wrong.
    if function is trigger_resync and isinstance(event, dict) and isinstance(event.get("request"), dict):
        body = event["request"].get("body")
        if isinstance(body, dict) and body.get("jobType") == "reset":
            event = copy.deepcopy(event)
            event["request"]["body"]["jobType"] = "sync"

    with pytest.raises(error) as raised:
        function(event, CONTEXT)

    assert named in str(raised.value)
    # Long or hostile values are previewed, not copied into the execution history.
    assert len(str(raised.value)) < 300
    assert untouched_stub.calls == []


@pytest.mark.parametrize(
    ("function", "job_type"),
    [
        pytest.param(trigger_reset, "sync", id="trigger-reset-asked-for-sync"),
        pytest.param(trigger_reset, "clear", id="trigger-reset-asked-for-clear"),
        pytest.param(trigger_reset, "refresh", id="trigger-reset-asked-for-refresh"),
        pytest.param(trigger_resync, "reset", id="trigger-resync-asked-for-reset"),
        pytest.param(trigger_resync, "refresh", id="trigger-resync-asked-for-refresh"),
    ],
)
def test_wrong_job_type_is_an_unsupported_operation(untouched_stub, function, job_type):
    with pytest.raises(UnsupportedOperation, match="jobType") as raised:
        function(create_job_event(job_type=job_type), CONTEXT)

    assert repr(job_type) in str(raised.value)
    assert untouched_stub.calls == []


@pytest.mark.parametrize("function", [trigger_reset, trigger_resync], ids=["trigger-reset", "trigger-resync"])
def test_missing_job_type_is_invalid_input(untouched_stub, function):
    with pytest.raises(InvalidInput, match="jobType is required"):
        function(with_body({"connectionId": CONNECTION_ID}), CONTEXT)

    assert untouched_stub.calls == []


def test_connection_id_with_trailing_newline_is_refused_before_any_call(untouched_stub):
    with pytest.raises(InvalidInput, match="connectionId"):
        trigger_reset(with_connection_id(CONNECTION_ID + "\n"), CONTEXT)

    assert untouched_stub.calls == []


GET_JOB_BAD_INPUT = [
    pytest.param(without_job_id(), "jobId", id="jobId-missing"),
    pytest.param(with_job_id(None), "jobId", id="jobId-null"),
    pytest.param(with_job_id("abc"), "jobId", id="jobId-letters"),
    pytest.param(with_job_id(""), "jobId", id="jobId-empty"),
    pytest.param(with_job_id(-1), "jobId", id="jobId-negative"),
    pytest.param(with_job_id("-1"), "jobId", id="jobId-negative-string"),
    pytest.param(with_job_id(0), "jobId", id="jobId-zero"),
    pytest.param(with_job_id(2**63), "jobId", id="jobId-above-int64"),
    pytest.param(with_job_id(str(2**63)), "jobId", id="jobId-above-int64-string"),
    pytest.param(with_job_id(True), "jobId", id="jobId-boolean"),
    pytest.param(with_job_id(1.5), "jobId", id="jobId-fraction"),
    pytest.param(with_job_id(1001.0), "jobId", id="jobId-float"),
    pytest.param(with_job_id("12; DROP"), "jobId", id="jobId-injection"),
    pytest.param(with_job_id("1001/../../jobs"), "jobId", id="jobId-path-traversal"),
    pytest.param(with_job_id(" 1001"), "jobId", id="jobId-leading-space"),
    pytest.param(with_job_id("1001\n"), "jobId", id="jobId-trailing-newline"),
    pytest.param(with_job_id([1001]), "jobId", id="jobId-array"),
    pytest.param(with_job_id("9" * 10_000), "jobId", id="jobId-10000-digits"),
    pytest.param(with_path_parameters([1001]), "pathParameters", id="pathParameters-array"),
    pytest.param(with_path_parameters("1001"), "pathParameters", id="pathParameters-string"),
    pytest.param(with_path_parameters(None), "pathParameters", id="pathParameters-null"),
]


@pytest.mark.parametrize(("event", "named"), GET_JOB_BAD_INPUT)
def test_bad_job_id_is_refused_before_any_call(untouched_stub, event, named):
    with pytest.raises(InvalidInput) as raised:
        poll_job(event, CONTEXT)

    assert named in str(raised.value)
    assert len(str(raised.value)) < 300
    assert untouched_stub.calls == []


def test_poll_job_refuses_another_operation(untouched_stub):
    with pytest.raises(UnsupportedOperation, match="getJob"):
        poll_job(with_operation_id(get_job_event(), "cancelJob"), CONTEXT)

    assert untouched_stub.calls == []


def test_largest_int64_job_id_is_sent(stub):
    result = poll_job(get_job_event(2**63 - 1), CONTEXT)

    assert result["statusCode"] == 404
    assert [call.path for call in stub.calls] == [f"/jobs/{2**63 - 1}"]


def test_bad_input_is_refused_before_the_secret_is_read(monkeypatch):
    # The secret does not exist: reading it would raise AirbyteConfigurationError instead.
    monkeypatch.setenv("AIRBYTE_API_URL", "https://api.airbyte.com/v1")
    monkeypatch.setenv("AIRBYTE_SECRET_ID", "airbyte/does-not-exist")
    with mock_aws():
        with pytest.raises(InvalidInput, match="connectionId"):
            trigger_reset(with_connection_id("../../etc"), CONTEXT)


# ---------------------------------------------------------------- logs


def test_logs_carry_execution_id_and_step(stub, logs):
    trigger_reset(create_job_event(), CONTEXT)

    records = log_records(logs.readouterr().out)
    [answered] = [record for record in records if record.get("message") == "Airbyte answered"]
    assert answered["correlation_id"] == EXECUTION_ID
    assert answered["step"] == "triggerReset"
    assert answered["operation"] == "createJob"
    assert answered["statusCode"] == 200
    assert answered["jobId"] == 1001
    assert answered["jobStatus"] == "pending"
    assert answered["function_name"] == CONTEXT.function_name
    assert answered["function_request_id"] == CONTEXT.aws_request_id
    assert "AirbyteCalls" in emitted_metrics(records)


def test_log_keys_do_not_leak_into_the_next_invocation(stub, logs):
    trigger_reset(create_job_event(), CONTEXT)
    other_execution = EXECUTION_ID.replace("run-7f3c", "run-8a4d")
    event = get_job_event(1001, step="pollReset")
    event["executionId"] = other_execution
    poll_job(event, CONTEXT)

    answered = [record for record in log_records(logs.readouterr().out) if record.get("message") == "Airbyte answered"]
    assert [(record["step"], record["correlation_id"]) for record in answered] == [
        ("triggerReset", EXECUTION_ID),
        ("pollReset", other_execution),
    ]


def failure_warnings(records: list[dict]) -> list[dict]:
    return [record for record in records if record.get("level") == "WARNING" and "errorType" in record]


def emitted_metrics(records: list[dict]) -> set[str]:
    """Metric names from the Embedded Metric Format documents among the records."""
    return {
        metric["Name"]
        for record in records
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", [])
        for metric in directive["Metrics"]
    }


def test_transient_error_is_logged_and_counted(stub, logs):
    stub.inject("getJob", Fault.status(503))

    with pytest.raises(TransientAirbyteError):
        poll_job(get_job_event(1001), CONTEXT)

    records = log_records(logs.readouterr().out)
    [warning] = failure_warnings(records)
    assert warning["errorType"] == "TransientAirbyteError"
    assert "HTTP 503" in warning["error"]
    assert warning["correlation_id"] == EXECUTION_ID
    assert warning["step"] == "pollReset"
    assert "TransientAirbyteError" in emitted_metrics(records)
    assert "AirbyteCalls" not in emitted_metrics(records)


def test_refused_input_is_logged_and_counted(untouched_stub, logs):
    with pytest.raises(InvalidInput):
        trigger_reset(with_connection_id("../../etc"), CONTEXT)

    records = log_records(logs.readouterr().out)
    [warning] = failure_warnings(records)
    assert warning["errorType"] == "InvalidInput"
    assert "connectionId" in warning["error"]
    assert warning["correlation_id"] == EXECUTION_ID
    assert warning["step"] == "triggerReset"
    assert "InvalidInput" in emitted_metrics(records)


def test_password_in_a_refused_api_url_is_not_logged(untouched_stub, logs, monkeypatch):
    monkeypatch.setenv("AIRBYTE_API_URL", f"ftp://{CLIENT_ID}:{CLIENT_SECRET}@airbyte.example.com/v1")

    with pytest.raises(AirbyteConfigurationError) as raised:
        trigger_reset(create_job_event(), CONTEXT)

    output = logs.readouterr()
    for text in (output.out, output.err, str(raised.value)):
        assert CLIENT_SECRET not in text


def test_logs_never_carry_the_secret_or_the_token(credentials_stub, logs):
    trigger_reset(create_job_event(), CONTEXT)
    poll_job(get_job_event(1001), CONTEXT)
    credentials_stub.expire_tokens()
    poll_job(get_job_event(1001), CONTEXT)
    credentials_stub.inject("getJob", Fault.status(503))
    with pytest.raises(TransientAirbyteError) as raised:
        poll_job(get_job_event(1001), CONTEXT)

    output = logs.readouterr()
    # The tokens the client was issued, read from the warm client only to search for them.
    [client] = handler_module._clients.values()
    issued_token = client.settings.auth._token
    assert issued_token
    for text in (output.out, output.err, str(raised.value)):
        assert CLIENT_SECRET not in text
        assert issued_token not in text
        assert "Bearer " not in text
    assert "Airbyte answered" in output.out


# ---------------------------------------------------------------- warm invocations


def test_warm_invocations_reuse_the_client_and_its_token(credentials_stub):
    trigger_reset(create_job_event(), CONTEXT)
    poll_job(get_job_event(1001), CONTEXT)

    assert credentials_stub.operations() == ["createAccessToken", "createJob", "getJob"]
    assert {call.authorization for call in credentials_stub.calls[1:]} == {"Bearer <redacted:1>"}


def test_cold_start_fetches_a_new_token(credentials_stub):
    trigger_reset(create_job_event(), CONTEXT)
    handler_module.forget_clients()
    poll_job(get_job_event(1001), CONTEXT)

    assert credentials_stub.operations() == ["createAccessToken", "createJob", "createAccessToken", "getJob"]


def test_warm_invocation_renews_a_token_airbyte_expired_early(credentials_stub):
    trigger_reset(create_job_event(), CONTEXT)
    credentials_stub.expire_tokens()

    result = poll_job(get_job_event(1001), CONTEXT)

    assert result["statusCode"] == 200
    assert [(call.operation_id, call.status) for call in credentials_stub.calls] == [
        ("createAccessToken", 200),
        ("createJob", 200),
        ("getJob", 401),
        ("createAccessToken", 200),
        ("getJob", 200),
    ]


# ---------------------------------------------------------------- criteria evaluated by the function


def test_criteria_the_state_machine_sends_are_evaluated_on_the_answer(stub):
    event = create_job_event()
    event["evaluate"] = {
        "c0": {"type": "simple", "condition": "$response.body#/status == 'PENDING'", "context": None},
        "c1": {"type": "regex", "condition": "^20[01]$", "context": "$statusCode"},
        "c2": {"type": "simple", "condition": "$response.body#/jobType == $inputs.expected", "context": None},
    }
    event["values"] = {"v0": {"expression": "$inputs.expected", "value": "SYNC"}}

    result = trigger_reset(event, CONTEXT)

    # Arazzo compares strings case-insensitively: PENDING matches pending.
    assert result["criteria"] == {"c0": True, "c1": True, "c2": False}


def test_a_malformed_criterion_is_refused_before_any_call(untouched_stub):
    event = create_job_event()
    event["evaluate"] = {"c0": {"type": "regex", "condition": "([", "context": "$statusCode"}}

    with pytest.raises(Exception) as raised:
        trigger_reset(event, CONTEXT)

    assert type(raised.value).__name__ == "CriterionError"
    assert "c0" in str(raised.value)
    assert untouched_stub.calls == []


# ---------------------------------------------------------------- list-jobs

list_jobs = load_function("list_jobs").lambda_handler


def list_jobs_event(**query) -> dict:
    return {
        "payloadVersion": PAYLOAD_VERSION,
        "step": "checkConnectionIdle",
        "operationId": "listJobs",
        "source": "airbyteApi",
        "request": {"method": "GET", "path": "/jobs", "query": {"connectionId": CONNECTION_ID, "limit": 20, **query}},
        "executionId": EXECUTION_ID,
    }


def test_list_jobs_asks_for_the_connections_newest_jobs(stub):
    trigger_reset(create_job_event(), CONTEXT)
    stub.reset_calls()

    result = list_jobs(list_jobs_event(), CONTEXT)

    assert result["statusCode"] == 200
    assert [job["jobType"] for job in result["body"]["data"]] == ["reset"]
    (call,) = stub.calls
    # Newest first: a job still running is the newest, and the first id is the highest.
    assert call.query == {"connectionId": CONNECTION_ID, "limit": "20", "orderBy": "createdAt|DESC"}


@pytest.mark.parametrize(
    "query, field",
    [
        ({"connectionId": None}, "connectionId"),
        ({"connectionId": "nope"}, "connectionId"),
        ({"connectionId": 7}, "connectionId"),
        ({"connectionId": CONNECTION_ID + "&status=running"}, "connectionId"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "20"}, "limit"),
    ],
)
def test_list_jobs_refuses_bad_queries_before_any_call(untouched_stub, query, field):
    event = list_jobs_event(**query)
    if query.get("connectionId", "") is None:
        del event["request"]["query"]["connectionId"]

    with pytest.raises(InvalidInput, match=field):
        list_jobs(event, CONTEXT)

    assert untouched_stub.calls == []


# What the layers install. Lambda's runtime has its own boto3 and botocore, AWS's layer brings
# Powertools, HTTP is http.client, and active tracing needs no SDK: the X-Ray SDK would add
# botocore (some 22 MiB) to the layer and slow every cold start.

LAYER_REQUIREMENTS = [FUNCTIONS_DIR.parent / "layers" / name / "requirements.txt" for name in ("arazzo_runtime", "airbyte_client")]


def test_the_layers_install_only_python_jsonpath():
    distributions = {canonicalize_name(name) for path in LAYER_REQUIREMENTS for name in layer_distributions(path)}

    # HTTP is the standard library's; Powertools is AWS's layer; boto3 is the runtime's.
    assert distributions == {"python-jsonpath"}
    assert "botocore" not in distributions
    assert "aws-xray-sdk" not in distributions


@dataclass
class FakeDistribution:
    requires: list[str]


def test_the_layer_closure_follows_the_extras_asked_for_and_no_others(tmp_path, monkeypatch):
    installed = {
        "aws-lambda-powertools": FakeDistribution(["jmespath>=1", "aws-xray-sdk>=2; extra == 'tracer'", "boto3; extra == 'aws-sdk'"]),
        "aws-xray-sdk": FakeDistribution(["botocore>=1.11", "wrapt"]),
        "requests": FakeDistribution(["urllib3<3", "PySocks>=1.5.6; extra == 'socks'", "legacy-shim; python_version < '3'"]),
        "jmespath": FakeDistribution([]),
        "botocore": FakeDistribution(["urllib3"]),
        "wrapt": FakeDistribution([]),
        "urllib3": FakeDistribution([]),
    }
    monkeypatch.setattr(bundle.metadata, "distribution", lambda name: installed[name])
    requirements = tmp_path / "requirements.txt"

    requirements.write_text("requests==2.34.2  # the HTTP client\naws-lambda-powertools==3.37.0\n")
    assert layer_distributions(requirements) == ["aws-lambda-powertools", "jmespath", "requests", "urllib3"]

    # Asked again with the extra, a distribution already reached brings the extra's requirements.
    requirements.write_text("aws-lambda-powertools==3.37.0\nrequests\nAWS_Lambda_Powertools[Tracer]\n")
    assert layer_distributions(requirements) == ["aws-lambda-powertools", "aws-xray-sdk", "botocore", "jmespath", "requests", "urllib3", "wrapt"]


# ------------------------------------------------- a retried trigger; a poll with a deadline


def retried(event: dict, adopt_above) -> dict:
    """The event of a second attempt, as the state machine sends it."""
    event = copy.deepcopy(event)
    event["attempt"] = 1
    event["executionStartTime"] = "2026-12-01T09:00:00Z"
    event["request"]["headers"] = {"X-Adopt-Above-Job-Id": adopt_above}
    return event


def reset_created_with_its_answer_lost(stub) -> None:
    """A first trigger-reset attempt whose reset (job 1001) Airbyte created, its answer lost
    on the way back; the stub's record of calls starts after it."""
    stub.script("reset", ["succeeded"])
    stub.inject("createJob", Fault.truncated())
    with pytest.raises(TransientAirbyteError):
        trigger_reset(create_job_event(), CONTEXT)
    stub.reset_calls()


def test_a_retried_trigger_adopts_a_job_above_the_one_it_names(stub):
    reset_created_with_its_answer_lost(stub)

    result = trigger_reset(retried(create_job_event(), adopt_above=1000), CONTEXT)

    assert result["body"]["jobId"] == 1001
    assert [call.operation_id for call in stub.calls] == ["listJobs"]  # looked, found, created nothing


def test_a_retried_trigger_never_adopts_the_job_it_names_or_an_older_one(stub):
    stub.script("reset", ["succeeded"])
    trigger_reset(create_job_event(), CONTEXT)  # 1001: an earlier run's reset
    stub.reset_calls()

    result = trigger_reset(retried(create_job_event(), adopt_above=1001), CONTEXT)

    assert result["body"]["jobId"] == 1002
    assert [call.operation_id for call in stub.calls] == ["listJobs", "createJob"]


@pytest.mark.parametrize("adopt_above", ["1001", -1, True, "latest"])
def test_a_bad_adopt_above_header_is_refused_before_any_call(untouched_stub, adopt_above):
    with pytest.raises(InvalidInput, match="X-Adopt-Above-Job-Id"):
        trigger_reset(retried(create_job_event(), adopt_above=adopt_above), CONTEXT)
    assert untouched_stub.calls == []


def test_poll_job_with_a_deadline_says_whether_the_job_is_overdue(stub):
    trigger_reset(create_job_event(), CONTEXT)
    event = get_job_event(1001)
    event["request"]["headers"] = {"X-Max-Job-Seconds": 3600}

    result = poll_job(event, CONTEXT)

    assert result["headers"]["x-job-overdue"] == "false"
    assert "x-job-overdue" not in poll_job(get_job_event(1001), CONTEXT)["headers"]


def test_a_read_that_finds_a_sync_ended_records_its_duration_rows_and_bytes(stub, logs):
    stub.script("sync", ["pending", "running", "succeeded"])
    trigger_resync(create_job_event(step="triggerResync", job_type="sync"), CONTEXT)
    poll_job(get_job_event(1001, step="pollJob"), CONTEXT)  # a job that has not ended records nothing
    assert not {"JobSeconds", "RowsSynced"} & emitted_metrics(log_records(logs.readouterr().out))

    event = get_job_event(1001, step="pollJob")
    event["loops"] = {"pollJob_stillRunning": {"iterations": 2, "total": 2}}  # two reads before this one
    answer = poll_job(event, CONTEXT)

    records = log_records(logs.readouterr().out)
    ended = {name: record for record in records for entry in record.get("_aws", {}).get("CloudWatchMetrics", [])
             for name in [metric["Name"] for metric in entry["Metrics"]] if name in ("JobSeconds", "RowsSynced", "BytesSynced", "JobPolls")}
    assert set(ended) == {"JobSeconds", "RowsSynced", "BytesSynced", "JobPolls"}
    assert ended["JobPolls"]["JobPolls"] == [3]
    assert all(record["JobType"] == "sync" and record["Status"] == "succeeded" for record in ended.values())
    assert ended["RowsSynced"]["RowsSynced"] == [answer["body"]["rowsSynced"]]
    assert ended["BytesSynced"]["BytesSynced"] == [answer["body"]["bytesSynced"]]
    assert ended["JobSeconds"]["JobSeconds"][0] >= 0


# ------------------------------------------------- a payload of another build


get_connection = load_function("get_connection").lambda_handler


def get_connection_event() -> dict:
    return {
        "payloadVersion": PAYLOAD_VERSION,
        "step": "checkConnection",
        "operationId": "getConnection",
        "source": "airbyteApi",
        "request": {"method": "GET", "path": "/connections/{connectionId}", "pathParameters": {"connectionId": CONNECTION_ID}},
        "executionId": EXECUTION_ID,
    }


EVERY_FUNCTION = [
    pytest.param(trigger_reset, create_job_event, id="trigger-reset"),
    pytest.param(trigger_resync, lambda: create_job_event(step="triggerResync", job_type="sync"), id="trigger-resync"),
    pytest.param(poll_job, get_job_event, id="poll-job"),
    pytest.param(list_jobs, list_jobs_event, id="list-jobs"),
    pytest.param(get_connection, get_connection_event, id="get-connection"),
]


@pytest.mark.parametrize(("function", "make_event"), EVERY_FUNCTION)
def test_every_function_refuses_a_payload_of_another_version_before_any_call(untouched_stub, logs, function, make_event):
    event = {**make_event(), "payloadVersion": PAYLOAD_VERSION + 1}

    with pytest.raises(PayloadVersionMismatch) as raised:
        function(event, CONTEXT)

    assert str(raised.value) == (
        f"{event['step']}: the state machine sends payload version {PAYLOAD_VERSION + 1}, these functions read version {PAYLOAD_VERSION}: deploy both from the same build"
    )
    assert untouched_stub.calls == []
    records = log_records(logs.readouterr().out)
    [warning] = failure_warnings(records)
    assert warning["errorType"] == "PayloadVersionMismatch"
    assert "PayloadVersionMismatch" in emitted_metrics(records)


@pytest.mark.parametrize(("function", "make_event"), EVERY_FUNCTION)
def test_once_the_compiler_sends_the_version_every_function_refuses_a_payload_without_one(untouched_stub, monkeypatch, function, make_event):
    monkeypatch.setattr(payload_contract, "ACCEPT_UNVERSIONED_PAYLOADS", False)
    event = make_event()
    del event["payloadVersion"]

    with pytest.raises(PayloadVersionMismatch, match="the state machine sends no payload version"):
        function(event, CONTEXT)

    assert untouched_stub.calls == []


def test_a_payload_of_this_version_is_performed(stub, monkeypatch):
    monkeypatch.setattr(payload_contract, "ACCEPT_UNVERSIONED_PAYLOADS", False)

    result = trigger_reset(create_job_event(), CONTEXT)

    assert result["statusCode"] == 200
    assert [call.operation_id for call in stub.calls] == ["createJob"]


def test_a_malformed_payload_is_invalid_input_naming_its_field(untouched_stub):
    event = get_job_event()
    event["attempt"] = -1

    with pytest.raises(InvalidInput, match="pollReset: attempt must be a non-negative integer, not -1"):
        poll_job(event, CONTEXT)

    assert untouched_stub.calls == []


# ------------------------------------------- the request a step sent ($url, $method, $request)


# What a step's outputs read of the request its function sent to Airbyte.
SENT_OUTPUTS = {
    "url": "$url", "method": "$method", "connectionId": "$request.body#/connectionId", "jobId": "$request.path.jobId",
    "limit": "$request.query.limit", "accept": "$request.header.Accept", "contentType": "$request.header.content-type",
    "authorization": "$request.header.Authorization", "pollInterval": "$request.header.X-Poll-Interval-Seconds",
}


def reading_what_was_sent(event: dict) -> dict:
    return {**event, "keep": {"outputs": SENT_OUTPUTS}}


def test_a_trigger_steps_outputs_read_the_body_and_url_it_sent(stub):
    result = trigger_reset(reading_what_was_sent(create_job_event()), CONTEXT)

    assert result["outputs"] == {
        "url": f"{stub.url}/jobs", "method": "POST", "connectionId": CONNECTION_ID, "jobId": None, "limit": None,
        "accept": "application/json", "contentType": "application/json", "authorization": None, "pollInterval": None,
    }


def test_a_poll_steps_outputs_read_the_path_parameter_it_sent_not_the_headers_it_only_read(stub):
    trigger_reset(create_job_event(), CONTEXT)
    event = reading_what_was_sent(get_job_event(1001))
    event["request"]["headers"] = {"X-Poll-Interval-Seconds": 5}

    result = poll_job(event, CONTEXT)

    outputs = result["outputs"]
    # The path parameter as the client sent it (an integer), the step's own header not sent to Airbyte.
    assert (outputs["url"], outputs["method"], outputs["jobId"], outputs["pollInterval"]) == (f"{stub.url}/jobs/1001", "GET", 1001, None)
    assert outputs["connectionId"] is None and outputs["contentType"] is None


def test_a_list_steps_criteria_read_the_query_it_sent(stub):
    event = reading_what_was_sent(list_jobs_event(limit=5))
    event["evaluate"] = {"c0": {"type": "simple", "condition": "$request.query.limit == 5 && $request.query.orderBy == 'createdAt|DESC'", "context": None},
                         "c1": {"type": "simple", "condition": "$request.header.Authorization != null", "context": None}}

    result = list_jobs(event, CONTEXT)

    assert result["outputs"]["url"] == f"{stub.url}/jobs?connectionId={CONNECTION_ID}&limit=5&orderBy=createdAt%7CDESC"
    assert result["outputs"]["limit"] == 5
    # The credential is not recorded: Authorization is missing, as an absent header is.
    assert result["criteria"] == {"c0": True, "c1": True}


def test_the_authorization_header_and_the_token_never_reach_the_answer_or_the_logs(credentials_stub, logs):
    trigger_reset(create_job_event(), CONTEXT)
    credentials_stub.expire_tokens()  # the read below sends twice: its answer records the second send

    result = poll_job(reading_what_was_sent(get_job_event(1001)), CONTEXT)

    assert [call.operation_id for call in credentials_stub.calls][-3:] == ["getJob", "createAccessToken", "getJob"]
    assert result["outputs"]["authorization"] is None and result["outputs"]["url"] == f"{credentials_stub.url}/jobs/1001"
    [client] = handler_module._clients.values()
    issued_token = client.settings.auth._token
    assert issued_token
    captured = logs.readouterr()
    for text in (json.dumps(result), captured.out, captured.err):
        assert issued_token not in text and CLIENT_SECRET not in text and "Bearer" not in text


def test_a_retried_trigger_that_takes_a_job_reads_the_listing_that_found_it(stub):
    reset_created_with_its_answer_lost(stub)
    event = reading_what_was_sent(retried(create_job_event(), adopt_above=1000))
    event["keep"]["body"] = ["/jobId"]

    result = trigger_reset(event, CONTEXT)

    assert result["body"] == {"jobId": 1001}
    assert [call.operation_id for call in stub.calls] == ["listJobs"]
    outputs = result["outputs"]
    # The last request sent is the listing: it has no body, and no header of the step's is sent.
    assert (outputs["method"], outputs["connectionId"], outputs["limit"]) == ("GET", None, 5)
    assert outputs["url"].startswith(f"{stub.url}/jobs?connectionId={CONNECTION_ID}&jobType=reset&")
