"""The shared Airbyte client against the Airbyte stub over real HTTP: the requests it
sends, how it classifies answers and failures, how it handles tokens, how it reads its
configuration, and that no secret ends up in a message or a repr."""

from __future__ import annotations

import json
import time
from datetime import UTC

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from airbyte_client import adoption
from airbyte_client import auth as auth_module
from airbyte_client.adoption import STARTED_BY_HEADER, create_job_for_run
from airbyte_client.auth import BearerToken, ClientCredentials, NoAuth
from airbyte_client.client import AirbyteClient, ApiResponse
from airbyte_client.config import Settings, auth_from_secret, load_settings, validate_api_url
from airbyte_client.errors import (
    AirbyteConfigurationError,
    InvalidAirbyteResponse,
    TransientAirbyteError,
)
from airbyte_resync.stub import AirbyteStub, Fault
from tests.runtime.test_http import NEEDS_OPENSSL, LoopbackServer, self_signed_certificate

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
UNKNOWN_JOB_ID = 4242
# Distinctive values, so a message or a repr can be searched for them.
CLIENT_ID = "client-id-3d9a"
CLIENT_SECRET = "client-secret-Vt7Kq2Lw9xRz"
WRONG_CLIENT_SECRET = "wrong-secret-Pb4Hc6Jm1Ud"
API_TOKEN = "api-token-Hm3Np8Qs5YbE"
SECRET_ID = "airbyte/credentials"
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
SHORT_READ_TIMEOUT = 0.3


def make_client(stub: AirbyteStub, auth=None, read_timeout: float = READ_TIMEOUT) -> AirbyteClient:
    return AirbyteClient(Settings(stub.url, auth or NoAuth(), CONNECT_TIMEOUT, read_timeout))


def assert_no_secret(text: str) -> None:
    for secret in (CLIENT_SECRET, WRONG_CLIENT_SECRET, API_TOKEN):
        assert secret not in text
    assert "Bearer " not in text


def requests_for(stub: AirbyteStub, operation_id: str) -> list:
    return [call for call in stub.calls if call.operation_id == operation_id]


@pytest.fixture
def stub():
    with AirbyteStub() as running:
        yield running


@pytest.fixture
def client(stub):
    return make_client(stub)


@pytest.fixture
def credentials_stub():
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


@pytest.fixture
def token_stub():
    with AirbyteStub(api_token=API_TOKEN) as running:
        yield running


@pytest.fixture
def secrets_manager(monkeypatch):
    """A moto Secrets Manager; Powertools' cached provider and values are dropped on both
    sides so no secret read in one test is served to another."""
    parameters.clear_caches()
    with mock_aws():
        yield boto3.client("secretsmanager")
    parameters.clear_caches()


# ---------------------------------------------------------------- requests sent


def test_create_job_posts_connection_and_job_type(stub, client):
    response = client.create_job(CONNECTION_ID, "reset")

    assert isinstance(response, ApiResponse)
    assert response.status_code == 200
    assert response.body["jobId"] == 1001
    assert response.body["jobType"] == "reset"
    assert response.body["connectionId"] == CONNECTION_ID
    [call] = stub.calls
    assert (call.method, call.path, call.operation_id) == ("POST", "/jobs", "createJob")
    assert call.body == {"connectionId": CONNECTION_ID, "jobType": "reset"}
    assert call.query == {}


def test_get_job_reads_the_job_by_id(stub, client):
    client.create_job(CONNECTION_ID, "reset")
    stub.reset_calls()

    response = client.get_job(1001)

    assert response.status_code == 200
    # The default reset script is pending, running, succeeded; each GET moves one step.
    assert response.body["status"] == "running"
    [call] = stub.calls
    assert (call.method, call.path, call.operation_id, call.body, call.query) == ("GET", "/jobs/1001", "getJob", None, {})


def test_cancel_job_deletes_the_job(stub, client):
    client.create_job(CONNECTION_ID, "reset")
    stub.reset_calls()

    response = client.cancel_job(1001)

    assert response.status_code == 200
    assert response.body["status"] == "cancelled"
    [call] = stub.calls
    assert (call.method, call.path, call.operation_id, call.body) == ("DELETE", "/jobs/1001", "cancelJob", None)


def test_list_jobs_sends_filters_as_query_and_drops_unset_ones(stub, client):
    client.create_job(CONNECTION_ID, "reset")
    stub.reset_calls()

    response = client.list_jobs(connectionId=CONNECTION_ID, jobType="reset", status=None, limit=5)

    assert response.status_code == 200
    assert [job["jobId"] for job in response.body["data"]] == [1001]
    [call] = stub.calls
    assert (call.method, call.path, call.operation_id) == ("GET", "/jobs", "listJobs")
    assert call.query == {"connectionId": CONNECTION_ID, "jobType": "reset", "limit": "5"}


def test_only_content_type_retry_after_location_and_date_headers_are_kept(stub, client):
    ok = client.create_job(CONNECTION_ID, "reset")
    # The stub also sends Server and Content-Length; neither may travel on. The Date tells a
    # job's age by Airbyte's clock.
    assert set(ok.headers) == {"content-type", "date"}

    stub.inject("getJob", Fault.status(404, retry_after=3))
    not_found = client.get_job(1001)
    assert {name: value for name, value in not_found.headers.items() if name != "date"} == {"content-type": "application/json", "retry-after": "3"}


def test_api_response_to_dict_is_the_step_result_shape(client):
    response = client.create_job(CONNECTION_ID, "reset")

    assert response.to_dict() == {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "date": response.headers["date"]},
        "body": response.body,
        "retryAfterSeconds": None,
        "criteria": {},
    }


@pytest.mark.parametrize(
    "header, seconds",
    [("7", 7), ("0", 0), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0)],
)
def test_retry_after_is_given_in_whole_seconds(header, seconds):
    response = ApiResponse(429, {"retry-after": header}, None)
    assert response.to_dict()["retryAfterSeconds"] == seconds


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rate_limit_and_server_errors_are_transient(stub, client, status):
    stub.inject("getJob", Fault.status(status))

    with pytest.raises(TransientAirbyteError) as raised:
        client.get_job(1001)

    assert f"HTTP {status}" in str(raised.value)
    assert "getJob" in str(raised.value)


def test_rate_limit_message_carries_retry_after_when_given(stub, client):
    stub.inject("getJob", Fault.status(429, retry_after=7))

    with pytest.raises(TransientAirbyteError, match="Retry-After 7"):
        client.get_job(1001)


def test_rate_limit_message_has_no_retry_after_when_airbyte_sends_none(stub, client):
    stub.inject("getJob", Fault.status(429))

    with pytest.raises(TransientAirbyteError) as raised:
        client.get_job(1001)

    assert "Retry-After" not in str(raised.value)
    assert "rate limited" in str(raised.value)


def test_try_again_later_conflict_is_transient(stub, client):
    stub.inject("createJob", Fault.status(409))

    with pytest.raises(TransientAirbyteError, match="HTTP 409"):
        client.create_job(CONNECTION_ID, "reset")


def test_second_sync_while_one_runs_is_transient(stub, client):
    # Airbyte's own try-again-later, not an injected one: the first sync is still running.
    assert client.create_job(CONNECTION_ID, "sync").status_code == 200

    with pytest.raises(TransientAirbyteError, match="try-again-later"):
        client.create_job(CONNECTION_ID, "sync")

    assert len(stub.jobs) == 1


def test_state_conflict_is_returned_not_raised(stub, client):
    client.create_job(CONNECTION_ID, "reset")
    client.cancel_job(1001)

    response = client.cancel_job(1001)

    assert response.status_code == 409
    assert response.body["title"] == "state-conflict"


@pytest.mark.parametrize("status", [400, 403, 404, 422])
@pytest.mark.parametrize("operation", ["createJob", "getJob"])
def test_client_errors_are_returned_not_raised(stub, client, status, operation):
    stub.inject(operation, Fault.status(status))

    if operation == "createJob":
        response = client.create_job(CONNECTION_ID, "reset")
    else:
        response = client.get_job(1001)

    assert response.status_code == status
    assert response.body["status"] == status


def test_unknown_job_is_a_404_response(client):
    response = client.get_job(UNKNOWN_JOB_ID)

    assert response.status_code == 404
    assert response.body["data"] == {"resourceType": "job", "resourceId": str(UNKNOWN_JOB_ID)}


def test_refresh_job_type_is_a_422_response(client):
    response = client.create_job(CONNECTION_ID, "refresh")

    assert response.status_code == 422


@pytest.mark.parametrize("operation", ["createJob", "getJob"])
def test_dropped_connection_is_transient(stub, client, operation):
    stub.inject(operation, Fault.disconnect())

    with pytest.raises(TransientAirbyteError, match="connection failed"):
        if operation == "createJob":
            client.create_job(CONNECTION_ID, "reset")
        else:
            client.get_job(1001)

    # Exactly one attempt: the client leaves retrying to the state machine.
    assert [(call.operation_id, call.status) for call in stub.calls] == [(operation, 0)]


def test_read_timeout_is_transient(stub):
    client = make_client(stub, read_timeout=SHORT_READ_TIMEOUT)
    delay = SHORT_READ_TIMEOUT + 0.5
    stub.inject("getJob", Fault.delay(delay))

    started = time.monotonic()
    with pytest.raises(TransientAirbyteError, match="timed out"):
        client.get_job(UNKNOWN_JOB_ID)

    # Given up before the stub would have answered.
    assert time.monotonic() - started < delay


def test_answer_within_read_timeout_is_not_a_timeout(stub):
    client = make_client(stub, read_timeout=SHORT_READ_TIMEOUT)
    stub.inject("getJob", Fault.delay(0.05))

    assert client.get_job(UNKNOWN_JOB_ID).status_code == 404


def test_invalid_json_on_get_is_transient(stub, client):
    stub.inject("getJob", Fault.invalid_json())

    with pytest.raises(TransientAirbyteError, match="not JSON"):
        client.get_job(1001)


def test_invalid_json_on_create_is_not_retryable(stub, client):
    # A retry could create a second job, so this must not be TransientAirbyteError.
    stub.inject("createJob", Fault.invalid_json())

    with pytest.raises(InvalidAirbyteResponse, match="not JSON") as raised:
        client.create_job(CONNECTION_ID, "reset")

    assert not isinstance(raised.value, TransientAirbyteError)


def test_invalid_json_on_cancel_is_not_retryable(stub, client):
    stub.inject("cancelJob", Fault.invalid_json())

    with pytest.raises(InvalidAirbyteResponse):
        client.cancel_job(1001)


# ---------------------------------------------------------------- authentication


def test_client_credentials_fetch_one_token_and_reuse_it(credentials_stub):
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))

    assert client.create_job(CONNECTION_ID, "reset").status_code == 200
    assert client.get_job(1001).status_code == 200
    assert client.list_jobs().status_code == 200

    assert credentials_stub.operations() == ["createAccessToken", "createJob", "getJob", "listJobs"]
    [token_request] = requests_for(credentials_stub, "createAccessToken")
    assert token_request.body == {"client_id": CLIENT_ID, "client_secret": "<redacted>", "grant_type": "client_credentials"}
    assert token_request.authorization is None
    assert {call.authorization for call in credentials_stub.calls[1:]} == {"Bearer <redacted:1>"}


def test_token_is_renewed_before_it_expires(monkeypatch):
    # Token lives 2 s; with a 1.8 s margin the client must renew after 0.2 s, while the
    # stub would still accept the old token: no 401 may be seen.
    monkeypatch.setattr(auth_module, "RENEW_MARGIN_SECONDS", 1.8)
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lifetime=2) as stub:
        client = make_client(stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
        client.get_job(UNKNOWN_JOB_ID)
        time.sleep(0.3)
        client.get_job(UNKNOWN_JOB_ID)

        assert [(call.operation_id, call.status, call.authorization) for call in stub.calls] == [
            ("createAccessToken", 200, None),
            ("getJob", 404, "Bearer <redacted:1>"),
            ("createAccessToken", 200, None),
            ("getJob", 404, "Bearer <redacted:2>"),
        ]


def test_token_shorter_than_the_margin_is_renewed_on_every_call():
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lifetime=auth_module.RENEW_MARGIN_SECONDS // 2) as stub:
        client = make_client(stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
        client.get_job(UNKNOWN_JOB_ID)
        client.get_job(UNKNOWN_JOB_ID)

        assert stub.operations() == ["createAccessToken", "getJob", "createAccessToken", "getJob"]


def test_rejected_token_is_renewed_once_and_the_call_retried(credentials_stub):
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
    client.create_job(CONNECTION_ID, "reset")
    # Tokens have been seen to die long before expires_in says.
    credentials_stub.expire_tokens()
    credentials_stub.reset_calls()

    response = client.get_job(1001)

    assert response.status_code == 200
    assert [(call.operation_id, call.status, call.authorization) for call in credentials_stub.calls] == [
        ("getJob", 401, "Bearer <redacted:1>"),
        ("createAccessToken", 200, None),
        ("getJob", 200, "Bearer <redacted:2>"),
    ]


def test_second_401_in_a_row_is_returned_without_another_retry(credentials_stub):
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
    credentials_stub.inject("getJob", Fault.status(401), Fault.status(401))

    response = client.get_job(1001)

    assert response.status_code == 401
    assert response.body["title"] == "invalid-api-key"
    assert credentials_stub.operations() == ["createAccessToken", "getJob", "createAccessToken", "getJob"]


def test_bearer_token_is_sent_as_is_and_never_exchanged(token_stub):
    client = make_client(token_stub, BearerToken(API_TOKEN))

    assert client.create_job(CONNECTION_ID, "reset").status_code == 200
    assert client.get_job(1001).status_code == 200

    assert token_stub.operations() == ["createJob", "getJob"]
    assert {call.authorization for call in token_stub.calls} == {"Bearer <redacted:api-token>"}


def test_bearer_token_401_is_returned_without_retry(token_stub):
    # A static token cannot be renewed, so a retry would only repeat the 401.
    client = make_client(token_stub, BearerToken("not-the-api-token"))

    response = client.get_job(1001)

    assert response.status_code == 401
    assert [(call.operation_id, call.authorization) for call in token_stub.calls] == [("getJob", "Bearer <redacted:unknown>")]


def test_no_auth_sends_no_authorization_header(stub, client):
    client.create_job(CONNECTION_ID, "reset")
    client.get_job(1001)

    assert [call.authorization for call in stub.calls] == [None, None]


def test_rejected_client_credentials_are_a_configuration_error(credentials_stub):
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, WRONG_CLIENT_SECRET))

    with pytest.raises(AirbyteConfigurationError) as raised:
        client.create_job(CONNECTION_ID, "reset")

    assert "createAccessToken" in str(raised.value)
    assert_no_secret(str(raised.value))
    # No job request goes out without a token.
    assert credentials_stub.operations() == ["createAccessToken"]


@pytest.mark.parametrize("status", [401, 400])
def test_token_endpoint_client_error_is_a_configuration_error(credentials_stub, status):
    credentials_stub.inject("createAccessToken", Fault.status(status))
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))

    with pytest.raises(AirbyteConfigurationError) as raised:
        client.get_job(1001)

    assert f"HTTP {status}" in str(raised.value)
    assert_no_secret(str(raised.value))


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_token_endpoint_server_error_is_transient(credentials_stub, status):
    credentials_stub.inject("createAccessToken", Fault.status(status))
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))

    with pytest.raises(TransientAirbyteError) as raised:
        client.get_job(1001)

    assert f"HTTP {status}" in str(raised.value)
    assert_no_secret(str(raised.value))
    assert credentials_stub.operations() == ["createAccessToken"]


def test_token_endpoint_dropped_connection_is_transient(credentials_stub):
    credentials_stub.inject("createAccessToken", Fault.disconnect())
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))

    with pytest.raises(TransientAirbyteError) as raised:
        client.get_job(1001)

    assert_no_secret(str(raised.value))


def test_token_failure_is_not_remembered(credentials_stub):
    credentials_stub.inject("createAccessToken", Fault.status(503))
    client = make_client(credentials_stub, ClientCredentials(CLIENT_ID, CLIENT_SECRET))
    with pytest.raises(TransientAirbyteError):
        client.create_job(CONNECTION_ID, "reset")

    # The state machine's retry reaches a healthy token endpoint and goes through.
    assert client.create_job(CONNECTION_ID, "reset").status_code == 200


# ---------------------------------------------------------------- secrets in messages and reprs


def test_credential_reprs_hide_secret_and_token(credentials_stub):
    credentials = ClientCredentials(CLIENT_ID, CLIENT_SECRET)
    make_client(credentials_stub, credentials).get_job(UNKNOWN_JOB_ID)
    # Read the issued token only to prove it is absent from the repr.
    issued_token = credentials._token
    assert issued_token

    for text in (repr(credentials), str(credentials), repr(Settings("https://example.com", credentials))):
        assert CLIENT_SECRET not in text
        assert issued_token not in text
    for text in (repr(BearerToken(API_TOKEN)), str(BearerToken(API_TOKEN)), repr(Settings("https://example.com", BearerToken(API_TOKEN)))):
        assert API_TOKEN not in text


def test_fingerprints_do_not_reveal_credentials():
    assert CLIENT_SECRET not in ClientCredentials(CLIENT_ID, CLIENT_SECRET).fingerprint
    assert API_TOKEN not in BearerToken(API_TOKEN).fingerprint


def test_transient_message_after_token_use_has_no_token(credentials_stub):
    credentials = ClientCredentials(CLIENT_ID, CLIENT_SECRET)
    client = make_client(credentials_stub, credentials)
    client.get_job(UNKNOWN_JOB_ID)
    credentials_stub.inject("getJob", Fault.status(503))

    with pytest.raises(TransientAirbyteError) as raised:
        client.get_job(UNKNOWN_JOB_ID)

    assert credentials._token not in str(raised.value)
    assert_no_secret(str(raised.value))
    # Transport errors are raised "from None": nothing underneath can carry the header.
    assert raised.value.__cause__ is None


# ---------------------------------------------------------------- TLS and environment


@NEEDS_OPENSSL
def test_a_certificate_that_cannot_be_verified_is_named_and_never_accepted(tmp_path):
    with LoopbackServer() as server:
        server.use_tls(*self_signed_certificate(tmp_path))
        client = AirbyteClient(Settings(server.url + "/api/public/v1", NoAuth()))
        # A configuration error, not a transient one: no retry makes the certificate verifiable.
        with pytest.raises(AirbyteConfigurationError, match=r"the certificate of 127\.0\.0\.1:\d+ could not be verified"):
            client.get_job(1)
    assert server.received == []  # no request went out over the unverified connection


def test_proxy_from_environment_is_ignored(stub, monkeypatch):
    # Nothing listens on port 9: a client that honoured HTTP_PROXY would fail to connect.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert make_client(stub).get_job(UNKNOWN_JOB_ID).status_code == 404


# ---------------------------------------------------------------- config.validate_api_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.airbyte.com/v1", "https://api.airbyte.com/v1"),
        ("https://api.airbyte.com/v1/", "https://api.airbyte.com/v1"),
        ("  https://airbyte.example.com/api/public/v1/  ", "https://airbyte.example.com/api/public/v1"),
        ("http://127.0.0.1:8000/api/public/v1", "http://127.0.0.1:8000/api/public/v1"),
        ("http://127.0.0.2:8000", "http://127.0.0.2:8000"),
        ("http://localhost", "http://localhost"),
        ("http://localhost:8006/api/public/v1/", "http://localhost:8006/api/public/v1"),
        ("http://[::1]:8000/api/public/v1", "http://[::1]:8000/api/public/v1"),
    ],
)
def test_api_url_accepted(url, expected):
    assert validate_api_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com", "https"),
        ("http://10.0.0.5:8000/api/public/v1", "https"),
        ("http://localhost.example.com", "https"),
        ("http://0.0.0.0:8000", "https"),
        ("ftp://example.com/v1", "http(s)"),
        ("file:///etc/passwd", "http(s)"),
        ("example.com/v1", "http(s)"),
        ("https://", "http(s)"),
        ("", "not set"),
        ("   ", "not set"),
        ("https://user:pass@example.com/v1", "credentials"),
        ("https://:pass@example.com/v1", "credentials"),
        ("https://user@example.com/v1", "credentials"),
        ("http://user:pass@127.0.0.1:8000", "credentials"),
    ],
)
def test_api_url_refused(url, reason):
    with pytest.raises(AirbyteConfigurationError, match=f"AIRBYTE_API_URL.*{reason.replace('(', '[(]').replace(')', '[)]')}"):
        validate_api_url(url)


def test_api_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(AirbyteConfigurationError) as raised:
        validate_api_url(f"https://{CLIENT_ID}:{CLIENT_SECRET}@example.com/v1")

    assert CLIENT_SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [f"ftp://{CLIENT_ID}:{CLIENT_SECRET}@example.com/v1", f"http://{CLIENT_ID}:{CLIENT_SECRET}@"],
    ids=["ftp-scheme", "no-host"],
)
def test_refused_api_url_message_never_carries_its_password(url):
    with pytest.raises(AirbyteConfigurationError) as raised:
        validate_api_url(url)

    assert CLIENT_SECRET not in str(raised.value)


# ---------------------------------------------------------------- config.auth_from_secret


def test_secret_with_client_credentials_gives_client_credentials():
    auth = auth_from_secret({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})

    assert isinstance(auth, ClientCredentials)
    assert (auth.client_id, auth.client_secret) == (CLIENT_ID, CLIENT_SECRET)


def test_secret_with_api_token_gives_bearer_token():
    auth = auth_from_secret({"apiToken": API_TOKEN})

    assert isinstance(auth, BearerToken)
    assert auth.token == API_TOKEN


def test_client_credentials_win_over_api_token():
    auth = auth_from_secret({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "apiToken": API_TOKEN})

    assert isinstance(auth, ClientCredentials)


@pytest.mark.parametrize(
    ("secret", "named_field"),
    [
        ({"clientId": CLIENT_ID}, "clientSecret"),
        ({"clientId": CLIENT_ID, "clientSecret": ""}, "clientSecret"),
        ({"clientId": CLIENT_ID, "clientSecret": None}, "clientSecret"),
        ({"clientSecret": CLIENT_SECRET}, "clientId"),
        ({"clientId": "", "clientSecret": CLIENT_SECRET}, "clientId"),
        ({"clientSecret": CLIENT_SECRET, "apiToken": API_TOKEN}, "clientId"),
        ({"clientId": 12345, "clientSecret": CLIENT_SECRET}, "clientId"),
        ({"clientId": CLIENT_ID, "clientSecret": ["not", "a", "string"]}, "clientSecret"),
        ({"clientId": CLIENT_ID, "clientSecret": {"value": CLIENT_SECRET}}, "clientSecret"),
        ({"apiToken": 987654321}, "apiToken"),
        ({"apiToken": True}, "apiToken"),
    ],
)
def test_incomplete_or_mistyped_secret_names_the_field(secret, named_field):
    with pytest.raises(AirbyteConfigurationError, match=f"'{named_field}'") as raised:
        auth_from_secret(secret)

    assert_no_secret(str(raised.value))
    assert CLIENT_ID not in str(raised.value)


@pytest.mark.parametrize("secret", [{}, {"apiToken": ""}, {"clientId": None, "clientSecret": None}, {"password": CLIENT_SECRET}])
def test_secret_without_credentials_is_refused(secret):
    with pytest.raises(AirbyteConfigurationError, match="no credentials") as raised:
        auth_from_secret(secret)

    assert_no_secret(str(raised.value))


# ---------------------------------------------------------------- config.load_settings


def test_load_settings_reads_client_credentials_from_the_secret(secrets_manager, monkeypatch):
    secrets_manager.create_secret(Name=SECRET_ID, SecretString=json.dumps({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}))
    monkeypatch.setenv("AIRBYTE_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("AIRBYTE_API_URL", "https://api.airbyte.com/v1/")

    settings = load_settings()

    assert settings.api_url == "https://api.airbyte.com/v1"
    assert isinstance(settings.auth, ClientCredentials)
    assert (settings.auth.client_id, settings.auth.client_secret) == (CLIENT_ID, CLIENT_SECRET)
    assert settings.connect_timeout > 0 and settings.read_timeout > 0


def test_load_settings_reads_an_api_token_from_the_secret(secrets_manager, monkeypatch):
    secrets_manager.create_secret(Name=SECRET_ID, SecretString=json.dumps({"apiToken": API_TOKEN}))
    monkeypatch.setenv("AIRBYTE_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("AIRBYTE_API_URL", "https://api.airbyte.com/v1")

    settings = load_settings()

    assert isinstance(settings.auth, BearerToken)
    assert settings.auth.token == API_TOKEN


@pytest.mark.parametrize(
    "secret_string",
    [f"clientSecret={CLIENT_SECRET}", f'["{CLIENT_SECRET}"]', f'"{CLIENT_SECRET}"'],
    ids=["not-json", "json-array", "json-string"],
)
def test_secret_that_is_not_a_json_object_is_a_configuration_error(secrets_manager, monkeypatch, secret_string):
    secrets_manager.create_secret(Name=SECRET_ID, SecretString=secret_string)
    monkeypatch.setenv("AIRBYTE_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("AIRBYTE_API_URL", "https://api.airbyte.com/v1")

    with pytest.raises(AirbyteConfigurationError, match="not a JSON object") as raised:
        load_settings()

    assert SECRET_ID in str(raised.value)
    assert_no_secret(str(raised.value))


def test_missing_secret_is_a_configuration_error(secrets_manager, monkeypatch):
    monkeypatch.setenv("AIRBYTE_SECRET_ID", "airbyte/does-not-exist")
    monkeypatch.setenv("AIRBYTE_API_URL", "https://api.airbyte.com/v1")

    with pytest.raises(AirbyteConfigurationError, match="cannot read secret 'airbyte/does-not-exist'"):
        load_settings()


def test_secret_with_a_missing_field_is_a_configuration_error(secrets_manager, monkeypatch):
    secrets_manager.create_secret(Name=SECRET_ID, SecretString=json.dumps({"clientId": CLIENT_ID}))
    monkeypatch.setenv("AIRBYTE_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("AIRBYTE_API_URL", "https://api.airbyte.com/v1")

    with pytest.raises(AirbyteConfigurationError, match="'clientSecret' is missing"):
        load_settings()


@pytest.mark.parametrize("secret_id", [None, "", "   "])
def test_no_secret_id_means_no_auth(monkeypatch, secret_id):
    if secret_id is None:
        monkeypatch.delenv("AIRBYTE_SECRET_ID", raising=False)
    else:
        monkeypatch.setenv("AIRBYTE_SECRET_ID", secret_id)
    monkeypatch.setenv("AIRBYTE_API_URL", "http://127.0.0.1:8000/api/public/v1")

    settings = load_settings()

    assert isinstance(settings.auth, NoAuth)
    assert settings.api_url == "http://127.0.0.1:8000/api/public/v1"


def test_load_settings_without_api_url_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("AIRBYTE_API_URL", raising=False)
    monkeypatch.setenv("AIRBYTE_SECRET_ID", "")

    with pytest.raises(AirbyteConfigurationError, match="AIRBYTE_API_URL is not set"):
        load_settings()


def test_load_settings_refuses_plain_http_to_a_remote_host(monkeypatch):
    monkeypatch.setenv("AIRBYTE_API_URL", "http://airbyte.example.com/api/public/v1")
    monkeypatch.setenv("AIRBYTE_SECRET_ID", "")

    with pytest.raises(AirbyteConfigurationError, match="https"):
        load_settings()



# ---------------------------------------------------------------- answers cut off


def test_a_get_whose_answer_is_cut_off_is_transient():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        job_id = client.create_job(CONNECTION_ID, "reset").body["jobId"]
        stub.inject("getJob", Fault.truncated())

        with pytest.raises(TransientAirbyteError, match="cut off"):
            client.get_job(job_id)


def test_a_post_whose_answer_is_cut_off_is_not_retried_blindly():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        stub.inject("createJob", Fault.truncated())

        with pytest.raises(InvalidAirbyteResponse, match="cut off"):
            client.create_job(CONNECTION_ID, "reset")
        # Airbyte did create the job: a blind retry would have created a second one.
        assert [job["jobType"] for job in stub.jobs.values()] == ["reset"]


# ---------------------------------------------------------------- a retried create finds its job


def create_for_run(client, job_type, *, retry=False, adopt_above=None, step="trigger"):
    return create_job_for_run(client, CONNECTION_ID, job_type, execution="arn:aws:states:us-east-1:123456789012:execution:m:run",
                              step=step, retry=retry, adopt_above=adopt_above)


def test_a_retried_create_takes_the_job_its_lost_attempt_created():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        stub.script("sync", ["succeeded"])
        seen = client.create_job(CONNECTION_ID, "sync").body["jobId"]  # the newest job the run saw: 1001
        stub.inject("createJob", Fault.truncated())  # created, answer lost
        with pytest.raises(TransientAirbyteError, match="looks for the job"):
            create_for_run(client, "reset", adopt_above=seen)

        again = create_for_run(client, "reset", retry=True, adopt_above=seen)

        assert [job["jobType"] for job in stub.jobs.values()] == ["sync", "reset"]
        assert again.status_code == 200 and again.body["jobId"] == 1002
        assert again.headers[STARTED_BY_HEADER] == "this-run"
        assert [c.operation_id for c in stub.calls][-1] == "listJobs"


def test_a_sync_airbyte_started_after_a_refusal_is_watched_but_said_to_be_airbytes():
    """Airbyte's scheduler starts a sync the moment the reset ends: this run's own sync is refused
    (409 try-again-later), and its retry finds that sync. It refills the destination, so the run
    may watch it; it must not call it its own."""
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        stub.script("reset", ["succeeded"])
        reset = client.create_job(CONNECTION_ID, "reset").body["jobId"]
        client.get_job(reset)  # the reset ends
        stub.script("sync", ["running", "running", "succeeded"])
        schedulers = client.create_job(CONNECTION_ID, "sync").body["jobId"]  # Airbyte's scheduler
        with pytest.raises(TransientAirbyteError, match="409") as refused:
            create_for_run(client, "sync", adopt_above=reset)
        assert refused.value.changed_nothing

        answer = create_for_run(client, "sync", retry=True, adopt_above=reset)

        assert answer.body["jobId"] == schedulers and answer.headers[STARTED_BY_HEADER] == "airbyte"
        assert [job["jobType"] for job in stub.jobs.values()] == ["reset", "sync"]


def test_after_a_refusal_a_reset_someone_else_started_is_not_taken():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        seen = 1000
        stub.script("reset", ["running"])
        others = client.create_job(CONNECTION_ID, "reset").body["jobId"]
        stub.inject("createJob", Fault.status(503))
        with pytest.raises(TransientAirbyteError):
            create_for_run(client, "reset", adopt_above=seen)

        answer = create_for_run(client, "reset", retry=True, adopt_above=seen)

        assert answer.body["jobId"] != others and answer.headers[STARTED_BY_HEADER] == "this-run"


def test_a_retried_create_adopts_no_job_the_run_had_seen_before_its_first_attempt():
    """The race of two runs a minute apart: the second run's sync, retried after a lost answer,
    must not take the first run's sync (created before the second run's reset) as its own."""
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        stub.script("sync", ["succeeded"])
        first_runs_sync = client.create_job(CONNECTION_ID, "sync").body["jobId"]
        stub.script("reset", ["succeeded"])
        second_runs_reset = client.create_job(CONNECTION_ID, "reset").body["jobId"]
        assert first_runs_sync < second_runs_reset
        adoption.note_may_create("arn:aws:states:us-east-1:123456789012:execution:m:run", "trigger")

        answer = create_for_run(client, "sync", retry=True, adopt_above=second_runs_reset)

        assert answer.body["jobId"] not in (first_runs_sync, second_runs_reset)  # a new sync
        assert [job["jobType"] for job in stub.jobs.values()] == ["sync", "reset", "sync"]


def test_a_retry_that_knows_no_job_of_the_run_adopts_nothing():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        stub.script("reset", ["succeeded"])
        client.create_job(CONNECTION_ID, "reset")  # an old reset, from another run

        answer = create_for_run(client, "reset", retry=True, adopt_above=None)

        assert answer.body["jobId"] == 1002  # a new job, not the old one
        assert "listJobs" not in [c.operation_id for c in stub.calls]


def test_create_job_waits_longer_than_airbyte_may_hold_the_answer():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth(), read_timeout=0.5, create_job_read_timeout=3))
        stub.inject("createJob", Fault.slow_answer(1))  # Airbyte holds a POST /jobs for up to 60 s
        assert client.create_job(CONNECTION_ID, "sync").status_code == 200
    assert Settings("https://x", NoAuth()).create_job_read_timeout > 60


def test_poll_job_says_whether_a_job_that_has_not_ended_is_past_its_limit():
    from datetime import datetime, timedelta

    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    with AirbyteStub(clock=lambda: now[0]) as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        stub.script_timed("sync", [("running", 7200), ("succeeded", 0)])
        job_id = client.create_job(CONNECTION_ID, "sync").body["jobId"]
        now[0] += timedelta(seconds=3000)
        # Airbyte's clock (its Date header), not this machine's, tells the job's age.
        assert client.poll_job(job_id, 5, max_job_seconds=3600).headers["x-job-overdue"] == "false"
        assert client.poll_job(job_id, 5, max_job_seconds=3600).headers["retry-after"] == "300"
        now[0] += timedelta(seconds=1000)
        assert client.poll_job(job_id, 5, max_job_seconds=3600).headers["x-job-overdue"] == "true"
        assert "x-job-overdue" not in client.poll_job(job_id, 5).headers
        now[0] += timedelta(seconds=4000)
        assert client.poll_job(job_id, 5, max_job_seconds=3600).headers["x-job-overdue"] == "false"  # it ended


# ---------------------------------------------------------------- adaptive polling


@pytest.mark.parametrize(
    "age, shortest, wait",
    [(0, 5, 5), (30, 5, 5), (100, 5, 10), (1_000, 5, 100), (3_000, 5, 300), (600_000, 5, 300), (100, 0, 10), (5, 0, 0), (600_000, 900, 900)],
)
def test_the_next_poll_waits_a_tenth_of_the_jobs_age_within_bounds(age, shortest, wait):
    from airbyte_client.client import next_poll_seconds

    assert next_poll_seconds(age, shortest) == wait


def test_poll_job_proposes_the_next_read_as_retry_after():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        job_id = client.create_job(CONNECTION_ID, "reset").body["jobId"]

        answer = client.poll_job(job_id, shortest_wait=7)

        assert answer.headers["retry-after"] == "7"  # a new job: the shortest wait
        assert answer.to_dict()["retryAfterSeconds"] == 7


def test_only_an_answer_with_a_job_carries_a_proposal():
    with AirbyteStub() as stub:
        client = AirbyteClient(Settings(stub.url, NoAuth()))
        # A 404 carries none: the loop is not taken then, the step fails.
        assert client.poll_job(999_999, shortest_wait=7).to_dict()["retryAfterSeconds"] is None


@pytest.mark.parametrize("url, says", [
    ("http://127.0.0.1:9/api/public/v1", "connection failed: refused by 127.0.0.1:9; is Airbyte running there"),
    ("https://airbyte.invalid/api/public/v1", "connection failed: cannot resolve the host airbyte.invalid; check the Airbyte URL's host name"),
])
def test_an_unreachable_airbyte_is_named_with_what_to_check(url, says):
    from airbyte_client.auth import NoAuth

    client = AirbyteClient(Settings(url, NoAuth()))
    with pytest.raises(TransientAirbyteError) as raised:
        client.get_job(1)
    assert says in str(raised.value)
