"""The generic operation function, called as Lambda calls it, with loopback servers
answering over real HTTP: which server a source's steps go to, events refused before any
request is sent, the dict returned to the state machine, and logs free of secrets."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from arazzo_runtime import observability
from arazzo_runtime import payload as payload_contract
from arazzo_runtime.errors import InvalidRequest, PayloadVersionMismatch, ServerUrlMissing, TransientHttpError
from arazzo_runtime.evaluate import CriterionError
from arazzo_runtime.payload import PAYLOAD_VERSION
from tests.lambda_context import LambdaContext

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "operation" / "app.py"
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:pet-store:run-5a1e"
# Distinctive values, so captured output can be searched for them.
API_KEY = "op-key-Zt7Qw2Lp9"
SESSION_COOKIE = "op-session-Hy4Kc8"
QUERY_TOKEN = "op-token-Vb3Nx6"


def load_function():
    spec = importlib.util.spec_from_file_location("lambda_function_operation_app", FUNCTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


operation = load_function()


CONTEXT = LambdaContext("operation", aws_request_id="0f1e2d3c-4b5a-4968-8776-655443322110")


class PetServer:
    """A loopback server that answers every request with one scripted JSON answer and
    records what it received (method, target, headers, body)."""

    def __init__(self, name: str):
        self.received: list[dict] = []
        self.status, self.headers, self.body = 200, {"Content-Type": "application/json"}, {"id": 7, "status": "Available", "server": name}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.received.append({"method": self.command, "target": self.path, "headers": dict(self.headers.items()), "body": body})
                payload = json.dumps(server.body).encode()
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = answer

            def log_message(self, format, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def servers():
    running = {"pets": PetServer("pets"), "default": PetServer("default")}
    yield running
    for server in running.values():
        server.close()


@pytest.fixture
def pets(servers, monkeypatch):
    """The petStore source's server, as SERVER_URL_PETSTORE, with an empty record; SERVER_URL
    points at another server."""
    for name in list(os.environ):
        if name.startswith("SERVER_URL"):
            monkeypatch.delenv(name)
    for server in servers.values():
        server.received.clear()
        server.status, server.headers = 200, {"Content-Type": "application/json"}
    monkeypatch.setenv("SERVER_URL_PETSTORE", servers["pets"].url)
    monkeypatch.setenv("SERVER_URL", servers["default"].url)
    return servers["pets"]


class CurrentStdout:
    """Writes to whatever sys.stdout is at the time of writing."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def logs(capsys, monkeypatch):
    """The Powertools handler holds the sys.stdout of import time; make it follow capsys."""
    monkeypatch.setattr(observability.logger.registered_handler, "stream", CurrentStdout())
    return capsys


def log_records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip().startswith("{")]


def event(**overrides) -> dict:
    base = {
        "payloadVersion": PAYLOAD_VERSION,
        "step": "getPet",
        "operationId": "getPetById",
        "source": "petStore",
        "request": {
            "method": "GET",
            "path": "/pet/{petId}",
            "pathParameters": {"petId": 7},
            "query": {"token": QUERY_TOKEN},
            "headers": {"X-Api-Key": API_KEY},
            "cookies": {"session": SESSION_COOKIE},
        },
        "evaluate": {
            "c0": {"type": "simple", "condition": "$response.body#/status == 'available'", "context": None},
            "c1": {"type": "regex", "condition": "^2\\d\\d$", "context": "$statusCode"},
            "c2": {"type": "jsonpath", "condition": "$[?@.id > $inputs.max]", "context": "$response.body"},
            "c3": {"type": "jsonpath", "condition": "$.server == 'PETS'", "context": "$response.body"},
        },
        "values": {"v0": {"expression": "$inputs.max", "value": 5}},
        "executionId": EXECUTION_ID,
    }
    base.update(overrides)
    return base


def with_request(**changes) -> dict:
    built = event()
    built["request"] = {**built["request"], **changes}
    return built


# ---------------------------------------------------------------- the answer


def test_the_step_request_is_sent_and_the_contract_dict_returned(pets):
    pets.headers = {"Content-Type": "application/json", "Retry-After": "12", "X-Trace": "t-1"}

    result = operation.lambda_handler(event(), CONTEXT)

    assert result == {
        "statusCode": 200,
        "headers": result["headers"],
        "body": {"id": 7, "status": "Available", "server": "pets"},
        "retryAfterSeconds": 12,
        "criteria": {"c0": True, "c1": True, "c2": True, "c3": False},
    }
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-trace"] == "t-1"
    assert all(name == name.lower() for name in result["headers"])
    assert json.loads(json.dumps(result)) == result
    [received] = pets.received
    assert (received["method"], received["target"]) == ("GET", f"/pet/7?token={QUERY_TOKEN}")
    assert received["headers"]["X-Api-Key"] == API_KEY
    assert received["headers"]["Cookie"] == f"session={SESSION_COOKIE}"


def test_an_error_status_is_returned_as_data(pets):
    pets.status = 404

    result = operation.lambda_handler(event(evaluate=None, values=None), CONTEXT)

    assert result["statusCode"] == 404
    assert result["criteria"] == {}
    assert result["retryAfterSeconds"] is None


def test_a_body_is_sent_by_content_type(pets):
    built = with_request(method="POST", path="/pet", pathParameters={}, contentType="application/json", body={"name": "Rex"})
    operation.lambda_handler(built, CONTEXT)
    assert json.loads(pets.received[-1]["body"]) == {"name": "Rex"}

    built = with_request(method="POST", path="/pet", pathParameters={}, contentType="application/x-www-form-urlencoded", body={"name": "Rex", "tags": ["a", "b"]})
    operation.lambda_handler(built, CONTEXT)
    assert pets.received[-1]["body"] == b"name=Rex&tags=a&tags=b"


# ---------------------------------------------------------------- which server


def test_each_source_has_its_server_and_the_others_share_server_url(servers, pets, monkeypatch):
    monkeypatch.setenv("SERVER_URL_PET_STORE_V2", servers["default"].url)

    assert operation.lambda_handler(event(), CONTEXT)["body"]["server"] == "pets"
    assert operation.lambda_handler(event(source="pet-store.v2"), CONTEXT)["body"]["server"] == "default"
    monkeypatch.delenv("SERVER_URL_PET_STORE_V2")
    monkeypatch.setenv("SERVER_URL", pets.url)
    assert operation.lambda_handler(event(source="elsewhere"), CONTEXT)["body"]["server"] == "pets"


def test_without_a_server_url_nothing_is_sent(servers, pets, monkeypatch):
    monkeypatch.delenv("SERVER_URL")
    monkeypatch.setenv("SERVER_URL_PETSTORE", "  ")

    with pytest.raises(ServerUrlMissing, match="no server URL for source 'petStore': set SERVER_URL_PETSTORE or SERVER_URL"):
        operation.lambda_handler(event(), CONTEXT)
    assert all(server.received == [] for server in servers.values())


def test_plain_http_to_a_remote_server_is_refused(pets, monkeypatch):
    monkeypatch.setenv("SERVER_URL_PETSTORE", "http://petstore.example.com/api")
    with pytest.raises(InvalidRequest, match="must use https"):
        operation.lambda_handler(event(), CONTEXT)


# ---------------------------------------------------------------- refused before any request


@pytest.mark.parametrize(
    ("bad_event", "error", "message"),
    [
        (["not", "an", "object"], InvalidRequest, "the event must be a JSON object"),
        (event(step=None), InvalidRequest, "step must be a non-empty string"),
        (event(source=""), InvalidRequest, "getPet: source must be a non-empty string"),
        (event(operationId=7), InvalidRequest, "getPet: operationId must be a non-empty string or null, not a number"),
        (event(request="GET /pet/7"), InvalidRequest, "getPet: request must be a JSON object"),
        (with_request(method=None), InvalidRequest, r"getPet: request\.method must be a non-empty string"),
        (with_request(path=7), InvalidRequest, r"getPet: request\.path must be a non-empty string"),
        (with_request(method="FETCH"), InvalidRequest, r"request\.method must be one of"),
        (with_request(pathParameters=[7]), InvalidRequest, r"request\.pathParameters must be a JSON object"),
        (with_request(pathParameters={}), InvalidRequest, "path parameter 'petId' is missing"),
        (with_request(headers={"X-Api-Key": API_KEY + "\n"}), InvalidRequest, r"request\.headers\.X-Api-Key"),
        (event(evaluate=[]), InvalidRequest, "getPet: evaluate must be a JSON object"),
        (event(values="v"), InvalidRequest, "getPet: values must be a JSON object"),
        (event(evaluate={"c9": {"type": "xpath", "condition": "/pet", "context": "$response.body"}}), CriterionError, "criterion c9: xpath criteria are not supported"),
        (event(evaluate={"c1": {"type": "regex", "condition": "(", "context": "$statusCode"}}), CriterionError, "criterion c1: invalid regular expression"),
        (event(evaluate={"c0": {"condition": "$inputs.unknown == 1"}}), CriterionError, r"criterion c0: \$inputs\.unknown has no value here"),
    ],
)
def test_bad_events_are_refused_before_any_request(pets, servers, bad_event, error, message):
    with pytest.raises(error, match=message):
        operation.lambda_handler(bad_event, CONTEXT)
    assert all(server.received == [] for server in servers.values())


# ---------------------------------------------------------------- the payload's version


def test_a_payload_of_another_version_is_refused_before_any_request(pets, servers, logs):
    with pytest.raises(PayloadVersionMismatch) as raised:
        operation.lambda_handler(event(payloadVersion=PAYLOAD_VERSION + 1), CONTEXT)

    assert str(raised.value) == (
        f"getPet: the state machine sends payload version {PAYLOAD_VERSION + 1}, these functions read version {PAYLOAD_VERSION}: deploy both from the same build"
    )
    assert all(server.received == [] for server in servers.values())
    failed = next(record for record in log_records(logs.readouterr().out) if record.get("message") == "step failed")
    assert failed["errorType"] == "PayloadVersionMismatch"


def test_once_the_compiler_sends_the_version_a_payload_without_one_is_refused(pets, servers, monkeypatch):
    monkeypatch.setattr(payload_contract, "ACCEPT_UNVERSIONED_PAYLOADS", False)

    unversioned = event()
    del unversioned["payloadVersion"]

    with pytest.raises(PayloadVersionMismatch, match="getPet: the state machine sends no payload version"):
        operation.lambda_handler(unversioned, CONTEXT)
    assert all(server.received == [] for server in servers.values())

    assert operation.lambda_handler(event(), CONTEXT)["statusCode"] == 200


def test_a_connection_that_fails_is_transient(pets, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SERVER_URL_PETSTORE", f"http://127.0.0.1:{port}")
    with pytest.raises(TransientHttpError, match=r"GET /pet/\{petId\} on 127\.0\.0\.1: connection failed"):
        operation.lambda_handler(event(), CONTEXT)


# ---------------------------------------------------------------- logs


def test_logs_carry_the_execution_and_step_but_no_secret(pets, logs):
    operation.lambda_handler(event(), CONTEXT)
    with pytest.raises(InvalidRequest):
        operation.lambda_handler(with_request(pathParameters={}), CONTEXT)

    output = logs.readouterr()
    everything = output.out + output.err
    records = log_records(output.out)
    answered = next(record for record in records if record.get("message") == "operation answered")
    assert answered["correlation_id"] == EXECUTION_ID
    assert (answered["step"], answered["source"], answered["operationId"]) == ("getPet", "petStore", "getPetById")
    assert (answered["method"], answered["path"], answered["statusCode"]) == ("GET", "/pet/{petId}", 200)
    failed = next(record for record in records if record.get("message") == "step failed")
    assert failed["errorType"] == "InvalidRequest"
    for secret in (API_KEY, SESSION_COOKIE, QUERY_TOKEN):
        assert secret not in everything


# ---------------------------------------------------------------- a criteria payload


def criteria_event(**changes) -> dict:
    """What the Task after a child execution sends: the step's criteria and the child's outputs."""
    base = {
        "payloadVersion": PAYLOAD_VERSION,
        "kind": "criteria",
        "step": "read",
        "evaluate": {
            "c0": {"type": "simple", "condition": "$outputs.status == 'succeeded'", "context": None},
            "c1": {"type": "simple", "condition": "$outputs.status == 'failed'", "context": None},
        },
        "values": {"v0": {"expression": "$outputs.status", "value": "SUCCEEDED"}},
    }
    return {**base, **changes}


def test_a_criteria_payload_is_judged_on_its_values_and_nothing_is_sent(pets, servers, logs):
    answer = operation.lambda_handler(criteria_event(), CONTEXT)

    assert answer == {"criteria": {"c0": True, "c1": False}}
    assert all(server.received == [] for server in servers.values())
    judged = next(record for record in log_records(logs.readouterr().out) if record.get("message") == "criteria judged")
    assert judged["step"] == "read" and judged["criteria"] == {"c0": True, "c1": False}


def test_a_malformed_criteria_payload_is_refused_naming_its_field(pets, servers):
    with pytest.raises(InvalidRequest, match=r"^read: evaluate must hold at least one criterion"):
        operation.lambda_handler(criteria_event(evaluate={}), CONTEXT)
    with pytest.raises(InvalidRequest, match="does not know: request"):
        operation.lambda_handler(criteria_event(request={"method": "GET", "path": "/pets"}), CONTEXT)
    with pytest.raises(PayloadVersionMismatch):
        operation.lambda_handler(criteria_event(payloadVersion=PAYLOAD_VERSION + 1), CONTEXT)
