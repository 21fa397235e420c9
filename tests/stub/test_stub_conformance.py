"""The Airbyte stub against openapi/airbyte-openapi.yml, that file against
Airbyte's own API descriptions (openapi/upstream/), and the stub's behaviour
that the workflow tests depend on."""

from __future__ import annotations

import json
import logging
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import airbyte_resync.stub as stub_module
from airbyte_resync.stub import AirbyteStub, Fault, RecordedCall, serve

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "openapi" / "airbyte-openapi.yml"
UPSTREAM_DIR = REPO_ROOT / "openapi" / "upstream"
SPEC_URI = "urn:airbyte-resync:airbyte-openapi"

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
OTHER_CONNECTION_ID = "0b6c3f7e-2a41-4d8e-9c55-1e2f3a4b5c6d"
UNKNOWN_CONNECTION_ID = "11111111-2222-4333-8444-555555555555"
CLIENT_ID = "resync-client"
CLIENT_SECRET = "client-secret-Zq81-do-not-log"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
REQUEST_TIMEOUT = 5


def _load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


SPEC = _load_yaml(SPEC_PATH)
UPSTREAM_JOBS = _load_yaml(UPSTREAM_DIR / "api_documentation_jobs.yaml")
UPSTREAM_APPLICATIONS = _load_yaml(UPSTREAM_DIR / "api_documentation_applications.yaml")
UPSTREAM_PROBLEMS = _load_yaml(UPSTREAM_DIR / "api-problems.yaml")
UPSTREAM_CONNECTIONS = _load_yaml(UPSTREAM_DIR / "api_documentation_connections.yaml")


# ---------------------------------------------------------------- spec helpers


def _resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are expected, got {ref}"
    node: Any = document
    for token in ref[2:].split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (path, method, operation object)."""
    found = {}
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                found[item[method]["operationId"]] = (path, method, item[method])
    return found


def _parameters(document: dict[str, Any], operation_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(in, name) -> parameter, merging path-level and operation-level parameters."""
    path, _method, operation = _operations(document)[operation_id]
    merged = {}
    for parameter in document["paths"][path].get("parameters", []) + operation.get("parameters", []):
        merged[(parameter["in"], parameter["name"])] = parameter
    return merged


SPEC_OPERATIONS = _operations(SPEC)


class SpecChecker:
    """Validates real responses against the response declared in the spec."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.operations = _operations(spec)
        self.registry: Registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
        self.checked: set[tuple[str, int]] = set()

    def declared_statuses(self, operation_id: str) -> list[int]:
        return sorted(int(code) for code in self.operations[operation_id][2]["responses"])

    def check(self, operation_id: str, response: requests.Response) -> Any:
        path, method, operation = self.operations[operation_id]
        status = str(response.status_code)
        if status not in operation["responses"]:
            pytest.fail(f"{operation_id} answered {status}, which the spec does not declare: {response.text}")
        pointer = f"/paths/{_escape(path)}/{method}/responses/{status}"
        declared = operation["responses"][status]
        if "$ref" in declared:
            pointer = declared["$ref"][1:]
            declared = _resolve_pointer(self.spec, declared["$ref"])
        content = declared.get("content", {})
        assert list(content) == ["application/json"], f"{operation_id} {status} should declare a JSON body"
        assert response.headers.get("Content-Type", "").split(";")[0] == "application/json"
        body = response.json()
        validator = Draft202012Validator(
            {"$ref": f"{SPEC_URI}#{pointer}/content/application~1json/schema"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(body), key=lambda error: list(error.path))
        if errors:
            details = "; ".join(f"{list(error.path)}: {error.message}" for error in errors)
            pytest.fail(f"{operation_id} {status} body does not match the spec: {details}\n{body}")
        if response.status_code >= 400 and response.status_code != 429 and set(body) != {"errorId"}:
            # Airbyte's problem bodies always carry these, though the schema requires only type and title.
            assert {"status", "type", "title", "detail", "data"} <= set(body), body
            assert body["status"] == response.status_code
        self.checked.add((operation_id, response.status_code))
        return body


class ApiClient:
    """requests against the stub, each answer checked against the spec."""

    def __init__(self, stub: AirbyteStub, checker: SpecChecker) -> None:
        self.stub = stub
        self.checker = checker
        self.session = requests.Session()
        self.token: str | None = None

    def call(
        self,
        operation_id: str,
        expect: int,
        *,
        job_id: int | str | None = None,
        authenticated: bool = True,
        **kwargs: Any,
    ) -> Any:
        path, method, _ = SPEC_OPERATIONS[operation_id]
        if job_id is not None:
            path = path.replace("{jobId}", str(job_id))
        path = path.replace("{connectionId}", str(kwargs.pop("connection_id", CONNECTION_ID)))
        headers = dict(kwargs.pop("headers", {}))
        if authenticated and self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.session.request(
            method, self.stub.url + path, headers=headers, timeout=REQUEST_TIMEOUT, **kwargs
        )
        assert response.status_code == expect, f"{operation_id}: {response.status_code} {response.text}"
        assert self.stub.calls[-1].operation_id == operation_id
        return self.checker.check(operation_id, response)

    def login(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> dict[str, Any]:
        body = self.call(
            "createAccessToken",
            200,
            json={"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"},
        )
        self.token = body["access_token"]
        return body


def _fake_response(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    return response


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def checker() -> SpecChecker:
    return SpecChecker(SPEC)


@pytest.fixture
def stub() -> Iterator[AirbyteStub]:
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


@pytest.fixture
def open_stub() -> Iterator[AirbyteStub]:
    """A stub that needs no authentication."""
    with AirbyteStub() as running:
        yield running


@pytest.fixture(scope="module")
def shared_open_stub() -> Iterator[AirbyteStub]:
    with AirbyteStub() as running:
        yield running


@pytest.fixture
def client(stub: AirbyteStub, checker: SpecChecker) -> ApiClient:
    return ApiClient(stub, checker)


@pytest.fixture
def open_client(open_stub: AirbyteStub, checker: SpecChecker) -> ApiClient:
    return ApiClient(open_stub, checker)


# ---------------------------------------------------------------- the checker itself


def test_checker_rejects_undeclared_status(checker: SpecChecker) -> None:
    with pytest.raises(pytest.fail.Exception, match="does not declare"):
        checker.check("getJob", _fake_response(418, b"{}"))


def test_checker_rejects_body_that_breaks_the_schema(checker: SpecChecker) -> None:
    job_without_id = b'{"status": "running", "jobType": "sync", "startTime": "x", "connectionId": "y"}'
    with pytest.raises(pytest.fail.Exception, match="jobId"):
        checker.check("getJob", _fake_response(200, job_without_id))
    null_duration = (
        b'{"jobId": 1, "status": "pending", "jobType": "reset", "startTime": "x", '
        b'"connectionId": "y", "duration": null}'
    )
    with pytest.raises(pytest.fail.Exception, match="duration"):
        checker.check("getJob", _fake_response(200, null_duration))


def test_checker_tells_the_two_409_problems_apart(checker: SpecChecker) -> None:
    try_again_later = stub_module.problem_body(stub_module.TRY_AGAIN_LATER)
    response = _fake_response(409, json.dumps(try_again_later).encode())
    checker.check("createJob", response)
    with pytest.raises(pytest.fail.Exception, match="state-conflict"):
        checker.check("cancelJob", response)


# ---------------------------------------------------------------- stub answers conform to the spec


def test_realistic_sequence_conforms_to_the_spec(client: ApiClient, stub: AirbyteStub) -> None:
    # Wrong credentials, then a token from a form body, then from JSON.
    client.call("createAccessToken", 401, data={"client_id": CLIENT_ID, "client_secret": "wrong"})
    client.call("createAccessToken", 400, json={"client_id": CLIENT_ID})
    client.call("createAccessToken", 400, json={**_credentials(), "grant_type": "password"})
    client.call("createAccessToken", 200, data=_credentials())
    token_body = client.login()
    assert token_body["token_type"] == "Bearer" and token_body["expires_in"] == 900

    client.call("listJobs", 401, authenticated=False)
    stub.script("reset", ["pending", "queued", "running", "succeeded"])
    created = client.call("createJob", 200, json={"connectionId": CONNECTION_ID, "jobType": "reset"})
    assert created["status"] == "pending" and "duration" not in created
    statuses = [client.call("getJob", 200, job_id=created["jobId"])["status"] for _ in range(4)]
    assert statuses == ["queued", "running", "succeeded", "succeeded"]

    sync = client.call("createJob", 200, json={"connectionId": CONNECTION_ID, "jobType": "sync"})
    client.call("createJob", 409, json={"connectionId": CONNECTION_ID, "jobType": "sync"})
    listed = client.call("listJobs", 200, params={"connectionId": CONNECTION_ID, "orderBy": "updatedAt|DESC"})
    assert [job["jobId"] for job in listed["data"]] == [sync["jobId"], created["jobId"]]
    client.call("listJobs", 400, params={"limit": 0})
    cancelled = client.call("cancelJob", 200, job_id=sync["jobId"])
    assert cancelled["status"] == "cancelled"
    client.call("cancelJob", 409, job_id=sync["jobId"])

    client.call("createJob", 422, json={"connectionId": "not-a-uuid", "jobType": "reset"})
    client.call("createJob", 422, json={"connectionId": CONNECTION_ID, "jobType": "refresh"})
    client.call("createJob", 422, data="[1, 2", headers={"Content-Type": "application/json"})
    client.call("getJob", 400, job_id="abc")
    client.call("getJob", 404, job_id=999999)
    client.call("cancelJob", 404, job_id=999999)

    assert {
        ("createAccessToken", 200),
        ("createAccessToken", 400),
        ("createAccessToken", 401),
        ("createJob", 200),
        ("createJob", 409),
        ("createJob", 422),
        ("getJob", 200),
        ("getJob", 400),
        ("getJob", 404),
        ("listJobs", 200),
        ("listJobs", 400),
        ("listJobs", 401),
        ("cancelJob", 200),
        ("cancelJob", 404),
        ("cancelJob", 409),
    } <= client.checker.checked


def test_unknown_connection_answer_conforms(checker: SpecChecker) -> None:
    with AirbyteStub(known_connections={CONNECTION_ID}) as stub:
        body = ApiClient(stub, checker).call(
            "createJob", 404, json={"connectionId": UNKNOWN_CONNECTION_ID, "jobType": "reset"}
        )
    assert body["data"] == {"resourceType": "connection", "resourceId": UNKNOWN_CONNECTION_ID}


FAULT_MATRIX = [
    (operation_id, status)
    for operation_id, (_, _, operation) in SPEC_OPERATIONS.items()
    for status in sorted(int(code) for code in operation["responses"])
    if status >= 400
]


@pytest.mark.parametrize(("operation_id", "status"), FAULT_MATRIX, ids=[f"{o}-{s}" for o, s in FAULT_MATRIX])
def test_every_declared_error_status_as_a_fault_conforms(
    shared_open_stub: AirbyteStub, checker: SpecChecker, operation_id: str, status: int
) -> None:
    shared_open_stub.inject(operation_id, Fault.status(status))
    client = ApiClient(shared_open_stub, checker)
    jobs_before = shared_open_stub.jobs
    client.call(operation_id, status, job_id=1001, json={"connectionId": CONNECTION_ID, "jobType": "sync"})
    assert shared_open_stub.jobs == jobs_before, "a faulted request must not change any job"
    assert shared_open_stub.calls[-1].status == status


def test_delayed_answer_conforms(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    job = open_client.call("createJob", 200, json={"connectionId": CONNECTION_ID, "jobType": "reset"})
    open_stub.inject("getJob", Fault.delay(0.2))
    started = time.monotonic()
    open_client.call("getJob", 200, job_id=job["jobId"])
    assert time.monotonic() - started >= 0.2


def test_invalid_json_fault_is_a_200_that_does_not_parse(open_stub: AirbyteStub) -> None:
    open_stub.inject("getJob", Fault.invalid_json())
    response = requests.get(f"{open_stub.url}/jobs/1001", timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_disconnect_drops_the_connection_without_an_answer(open_stub: AirbyteStub) -> None:
    open_stub.inject("createJob", Fault.disconnect())
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{open_stub.url}/jobs",
            json={"connectionId": CONNECTION_ID, "jobType": "reset"},
            timeout=REQUEST_TIMEOUT,
        )
    assert open_stub.calls[-1].operation_id == "createJob"
    assert open_stub.calls[-1].status == 0
    assert open_stub.jobs == {}


def test_rate_limit_has_no_retry_after_unless_asked(open_stub: AirbyteStub) -> None:
    open_stub.inject("getJob", Fault.status(429), Fault.status(429, retry_after=3))
    plain = requests.get(f"{open_stub.url}/jobs/1001", timeout=REQUEST_TIMEOUT)
    assert plain.status_code == 429
    assert plain.json() == {"message": "You are being rate limited."}
    assert "Retry-After" not in plain.headers
    with_header = requests.get(f"{open_stub.url}/jobs/1001", timeout=REQUEST_TIMEOUT)
    assert with_header.headers["Retry-After"] == "3"


# ---------------------------------------------------------------- the spec agrees with Airbyte's


def _upstream_for(operation_id: str) -> dict[str, Any]:
    if operation_id in ("getConnection", "listConnections"):
        return UPSTREAM_CONNECTIONS
    return UPSTREAM_APPLICATIONS if operation_id == "createAccessToken" else UPSTREAM_JOBS


def _shape(schema: dict[str, Any]) -> dict[str, Any]:
    """What a schema says about data, without documentation keywords."""
    shape: dict[str, Any] = {}
    for keyword in ("type", "format", "enum", "$ref", "minimum", "maximum", "default", "pattern"):
        if keyword in schema:
            shape[keyword] = schema[keyword]
    if "required" in schema:
        shape["required"] = sorted(schema["required"])
    if "properties" in schema:
        shape["properties"] = {name: _shape(value) for name, value in schema["properties"].items()}
    if "items" in schema:
        shape["items"] = _shape(schema["items"])
    return shape


def test_the_spec_declares_exactly_the_operations_the_workflow_uses() -> None:
    assert {
        operation_id: (path, method) for operation_id, (path, method, _) in SPEC_OPERATIONS.items()
    } == {
        "listJobs": ("/jobs", "get"),
        "createJob": ("/jobs", "post"),
        "getJob": ("/jobs/{jobId}", "get"),
        "cancelJob": ("/jobs/{jobId}", "delete"),
        "createAccessToken": ("/applications/token", "post"),
        "getConnection": ("/connections/{connectionId}", "get"),
        "listConnections": ("/connections", "get"),
    }


@pytest.mark.parametrize("operation_id", sorted(SPEC_OPERATIONS))
def test_operation_matches_upstream(operation_id: str) -> None:
    path, method, operation = SPEC_OPERATIONS[operation_id]
    upstream = _upstream_for(operation_id)
    upstream_operation = upstream["paths"][path][method]
    assert upstream_operation["operationId"] == operation_id
    assert operation.get("security") == upstream_operation.get("security")

    ours = _parameters(SPEC, operation_id)
    theirs = _parameters(upstream, operation_id)
    assert set(ours) <= set(theirs), f"parameters unknown upstream: {set(ours) - set(theirs)}"
    assert {key for key in ours if key[0] == "path"} == {key for key in theirs if key[0] == "path"}
    for key, parameter in ours.items():
        assert _shape(parameter["schema"]) == _shape(theirs[key]["schema"]), key
        assert bool(parameter.get("required")) == bool(theirs[key].get("required")), key

    if "requestBody" in upstream_operation or "requestBody" in operation:
        our_body, their_body = operation["requestBody"], upstream_operation["requestBody"]
        assert our_body.get("required") == their_body.get("required")
        assert set(our_body["content"]) == set(their_body["content"])
        for media_type, media in our_body["content"].items():
            ours_schema = _resolve_pointer(SPEC, media["schema"]["$ref"])
            theirs_schema = _resolve_pointer(upstream, their_body["content"][media_type]["schema"]["$ref"])
            assert sorted(ours_schema["required"]) == sorted(theirs_schema["required"])

    # Success bodies use the same component as upstream.
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == (
        upstream_operation["responses"]["200"]["content"]["application/json"]["schema"]
    )


def test_operations_declare_the_errors_airbyte_sends() -> None:
    every_operation = {401, 403, 429, 500, 502, 503, 504}
    expected = {
        "createAccessToken": every_operation | {400},
        "createJob": every_operation | {400, 404, 409, 422},
        "getJob": every_operation | {400, 404},
        "cancelJob": every_operation | {400, 404, 409},
        "listJobs": every_operation | {400},
        "getConnection": every_operation | {404, 422},
        "listConnections": every_operation | {400, 404},
    }
    for operation_id, statuses in expected.items():
        declared = {int(code) for code in SPEC_OPERATIONS[operation_id][2]["responses"]} - {200}
        assert declared == statuses, operation_id
    conflicts = {
        operation_id: SPEC_OPERATIONS[operation_id][2]["responses"]["409"]["$ref"]
        for operation_id in ("createJob", "cancelJob")
    }
    assert conflicts == {
        # try-again-later while a job runs; state-conflict for a connection that is not active.
        "createJob": "#/components/responses/CreateJobConflict",
        "cancelJob": "#/components/responses/StateConflict",
    }


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        ("JobResponse", UPSTREAM_JOBS),
        ("JobsResponse", UPSTREAM_JOBS),
        ("JobCreateRequest", UPSTREAM_JOBS),
        ("JobStatusEnum", UPSTREAM_JOBS),
        ("JobTypeEnum", UPSTREAM_JOBS),
        ("ConnectionsResponse", UPSTREAM_CONNECTIONS),
        ("PublicAccessTokenResponse", UPSTREAM_APPLICATIONS),
        ("BaseProblemFields", UPSTREAM_PROBLEMS),
        ("ProblemMessageData", UPSTREAM_PROBLEMS),
        ("ProblemResourceData", UPSTREAM_PROBLEMS),
    ],
)
def test_component_schema_matches_upstream(name: str, upstream: dict[str, Any]) -> None:
    assert _shape(SPEC["components"]["schemas"][name]) == _shape(upstream["components"]["schemas"][name])


def test_job_status_enum_includes_queued() -> None:
    statuses = SPEC["components"]["schemas"]["JobStatusEnum"]["enum"]
    assert "queued" in statuses
    assert tuple(statuses) == stub_module.JOB_STATUSES
    assert tuple(SPEC["components"]["schemas"]["JobTypeEnum"]["enum"]) == stub_module.JOB_TYPES


def test_token_request_matches_upstream_except_the_grant_type_spelling() -> None:
    ours = SPEC["components"]["schemas"]["ApplicationTokenRequestWithGrant"]
    theirs = UPSTREAM_APPLICATIONS["components"]["schemas"]["ApplicationTokenRequestWithGrant"]
    # Upstream names the property grant-type but requires grant_type; ours uses grant_type throughout.
    assert "grant-type" in theirs["properties"] and "grant_type" in theirs["required"]
    assert set(ours["properties"]) == set(ours["required"]) == {"client_id", "client_secret", "grant_type"}
    theirs_renamed = dict(theirs["properties"])
    theirs_renamed["grant_type"] = theirs_renamed.pop("grant-type")
    assert _shape(ours) == _shape({**theirs, "properties": theirs_renamed})


PROBLEM_SCHEMAS = sorted(
    name for name in SPEC["components"]["schemas"] if name.endswith("ProblemResponse")
)


@pytest.mark.parametrize("name", PROBLEM_SCHEMAS)
def test_problem_schema_matches_upstream(name: str) -> None:
    ours = SPEC["components"]["schemas"][name]
    assert ours["allOf"][0] == {"$ref": "#/components/schemas/BaseProblemFields"}
    our_fields = ours["allOf"][1]["properties"]
    for field in ("status", "type", "title"):
        if "const" in our_fields[field]:
            assert our_fields[field]["const"] == our_fields[field]["default"], (name, field)
    if name in ("BadGatewayProblemResponse", "GatewayTimeoutProblemResponse"):
        assert name not in UPSTREAM_PROBLEMS["components"]["schemas"]
        return
    their_fields = UPSTREAM_PROBLEMS["components"]["schemas"][name]["allOf"][1]["properties"]
    assert set(our_fields) == set(their_fields)
    for field, schema in their_fields.items():
        assert _shape(our_fields[field]) == _shape(schema), (name, field)


@pytest.mark.parametrize(
    ("problem", "schema_name"),
    [
        (stub_module.BAD_REQUEST, "BadRequestProblemResponse"),
        (stub_module.INVALID_API_KEY, "InvalidApiKeyProblemResponse"),
        (stub_module.FORBIDDEN, "ForbiddenProblemResponse"),
        (stub_module.RESOURCE_NOT_FOUND, "ResourceNotFoundProblemResponse"),
        (stub_module.TRY_AGAIN_LATER, "TryAgainLaterConflictProblemResponse"),
        (stub_module.STATE_CONFLICT, "StateConflictProblemResponse"),
        (stub_module.UNPROCESSABLE_ENTITY, "UnprocessableEntityProblemResponse"),
        (stub_module.UNEXPECTED_PROBLEM, "UnexpectedProblemResponse"),
        (stub_module.SERVICE_UNAVAILABLE, "ServiceUnavailableProblemResponse"),
    ],
)
def test_stub_problem_constants_are_upstream_defaults(problem: Any, schema_name: str) -> None:
    fields = UPSTREAM_PROBLEMS["components"]["schemas"][schema_name]["allOf"][1]["properties"]
    assert (problem.status, problem.type, problem.title, problem.detail) == (
        fields["status"]["default"],
        fields["type"]["default"],
        fields["title"]["default"],
        fields["detail"]["default"],
    )


def test_servers_and_security_match_upstream() -> None:
    urls = [server["url"] for server in SPEC["servers"]]
    assert urls == [UPSTREAM_JOBS["servers"][0]["url"], "{host}/api/public/v1"]
    assert "host" in SPEC["servers"][1]["variables"]
    assert SPEC["components"]["securitySchemes"] == UPSTREAM_JOBS["components"]["securitySchemes"]
    assert SPEC["security"] == UPSTREAM_JOBS["security"] == [{"bearerAuth": []}]


def test_every_reference_resolves_and_every_schema_is_valid() -> None:
    def references(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from references(value)
        elif isinstance(node, list):
            for item in node:
                yield from references(item)

    refs = set(references(SPEC))
    assert refs
    for ref in refs:
        _resolve_pointer(SPEC, ref)
    for name, schema in SPEC["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert schema, name
    assert SPEC["openapi"].startswith("3.1")


# ---------------------------------------------------------------- behaviour: authentication


def _credentials() -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def test_jobs_need_a_valid_bearer_token(client: ApiClient) -> None:
    client.call("listJobs", 401, authenticated=False)
    client.call("listJobs", 401, authenticated=False, headers={"Authorization": "Bearer made-up"})
    client.call("listJobs", 401, authenticated=False, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    client.login()
    client.call("listJobs", 200)


def test_expired_tokens_are_refused_until_renewed(client: ApiClient, stub: AirbyteStub) -> None:
    client.login()
    client.call("listJobs", 200)
    stub.expire_tokens()
    client.call("listJobs", 401)
    client.login()
    client.call("listJobs", 200)
    markers = [call.authorization for call in stub.calls if call.operation_id == "listJobs"]
    assert markers == ["Bearer <redacted:1>", "Bearer <redacted:1>", "Bearer <redacted:2>"]


def test_tokens_expire_after_their_lifetime(checker: SpecChecker) -> None:
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lifetime=0) as stub:
        client = ApiClient(stub, checker)
        assert client.login()["expires_in"] == 0
        client.call("listJobs", 401)


def test_static_api_token(checker: SpecChecker) -> None:
    with AirbyteStub(api_token="static-token-value") as stub:
        client = ApiClient(stub, checker)
        client.call("listJobs", 401)
        client.call("createAccessToken", 401, json={**_credentials(), "grant_type": "client_credentials"})
        client.token = "static-token-value"
        client.call("listJobs", 200)
        assert stub.calls[-1].authorization == "Bearer <redacted:api-token>"


def test_no_authentication_without_credentials(open_client: ApiClient) -> None:
    open_client.call("listJobs", 200)
    open_client.call("createAccessToken", 200, json=_credentials())


def test_secrets_appear_in_no_record_and_no_log(
    client: ApiClient, stub: AirbyteStub, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger=stub_module.__name__)
    client.call("createAccessToken", 200, data=_credentials())
    token = client.login()["access_token"]
    client.call("createJob", 200, json={"connectionId": CONNECTION_ID, "jobType": "reset"})
    client.call("listJobs", 200, params={"client_secret": CLIENT_SECRET})
    client.call("createAccessToken", 400, data=f"client_secret={CLIENT_SECRET}&oops", headers={
        "Content-Type": "text/plain"
    })
    recorded = repr(stub.calls)
    output = capfd.readouterr()
    for secret in (token, CLIENT_SECRET):
        assert secret not in recorded
        assert secret not in caplog.text
        assert secret not in output.err and secret not in output.out
    assert output.err == ""
    token_calls = [call for call in stub.calls if call.operation_id == "createAccessToken"]
    assert token_calls[0].body == {"client_id": CLIENT_ID, "client_secret": "<redacted>"}


# ---------------------------------------------------------------- behaviour: jobs


def _create(client: ApiClient, job_type: str, connection_id: str = CONNECTION_ID, expect: int = 200) -> Any:
    return client.call("createJob", expect, json={"connectionId": connection_id, "jobType": job_type})


THREE_CONNECTIONS = (CONNECTION_ID, OTHER_CONNECTION_ID, "2c1d7a0e-5b6f-4c3d-8e9f-0a1b2c3d4e5f")


def test_scripts_advance_per_poll_and_repeat_the_last_status(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    open_stub.script("reset", ["pending", "queued", "running", "failed"])
    open_stub.script("reset", ["queued", "succeeded"])
    first, second, third = (_create(open_client, "reset", connection) for connection in THREE_CONNECTIONS)
    assert [first["jobId"], second["jobId"], third["jobId"]] == [1001, 1002, 1003]
    assert [first["status"], second["status"], third["status"]] == ["pending", "queued", "pending"]

    def polls(job_id: int, count: int) -> list[str]:
        return [open_client.call("getJob", 200, job_id=job_id)["status"] for _ in range(count)]

    assert polls(1001, 5) == ["queued", "running", "failed", "failed", "failed"]
    assert polls(1002, 2) == ["succeeded", "succeeded"]
    assert polls(1003, 3) == ["running", "succeeded", "succeeded"]  # the default reset script
    assert open_stub.jobs[1001]["status"] == "failed"
    assert "duration" in open_stub.jobs[1001] and "duration" not in third


def test_default_scripts_and_constructor_overrides(checker: SpecChecker) -> None:
    with AirbyteStub(job_scripts={"sync": ["queued", "succeeded"]}) as stub:
        client = ApiClient(stub, checker)
        sync = _create(client, "sync")
        clear = _create(client, "clear", OTHER_CONNECTION_ID)
        assert clear["jobType"] == "reset"  # stored as a reset, and reported so
        assert sync["status"] == "queued" and clear["status"] == "pending"
        assert client.call("getJob", 200, job_id=sync["jobId"])["status"] == "succeeded"
        assert client.call("getJob", 200, job_id=clear["jobId"])["status"] == "running"


def test_listing_does_not_advance_jobs(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    job = _create(open_client, "reset")
    open_client.call("listJobs", 200)
    assert open_stub.jobs[job["jobId"]]["status"] == "pending"


def test_unknown_connection_is_404_and_creates_nothing(checker: SpecChecker) -> None:
    with AirbyteStub(known_connections={CONNECTION_ID}) as stub:
        client = ApiClient(stub, checker)
        _create(client, "reset", UNKNOWN_CONNECTION_ID, expect=404)
        assert stub.jobs == {}
        assert _create(client, "reset", CONNECTION_ID.upper())["connectionId"] == CONNECTION_ID


def test_a_sync_while_any_job_runs_is_409_try_again_later(open_client: ApiClient) -> None:
    first = _create(open_client, "sync")
    body = _create(open_client, "sync", expect=409)
    assert body["title"] == "try-again-later"
    _create(open_client, "sync", OTHER_CONNECTION_ID)  # another connection is not blocked
    for _ in range(2):
        open_client.call("getJob", 200, job_id=first["jobId"])  # running -> succeeded
    reset = _create(open_client, "reset")
    assert _create(open_client, "sync", expect=409)["title"] == "try-again-later"  # the reset runs
    for _ in range(2):
        open_client.call("getJob", 200, job_id=reset["jobId"])
    _create(open_client, "sync")


def test_a_reset_cancels_the_running_sync_and_a_second_reset_the_first(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    sync = _create(open_client, "sync")
    reset = _create(open_client, "reset")
    cancelled = open_client.call("getJob", 200, job_id=sync["jobId"])
    assert cancelled["status"] == "cancelled" and "lastUpdatedAt" in cancelled
    second = _create(open_client, "clear")
    assert open_stub.jobs[reset["jobId"]]["status"] == "cancelled"
    assert open_stub.jobs[second["jobId"]]["status"] == "pending"


def test_an_inactive_connection_is_reset_and_then_refused_its_sync(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    for status in ("inactive", "deprecated", "locked"):
        open_stub.set_connection_status(CONNECTION_ID, status)
        assert open_client.call("getConnection", 200)["status"] == status
    reset = _create(open_client, "reset")
    for _ in range(2):
        open_client.call("getJob", 200, job_id=reset["jobId"])
    assert open_stub.jobs[reset["jobId"]]["status"] == "succeeded"
    refused = _create(open_client, "sync", expect=409)
    assert refused["title"] == "state-conflict"  # not transient: the destination stays empty
    open_stub.set_connection_status(CONNECTION_ID, "active")
    _create(open_client, "sync")


def test_get_connection_answers_the_connection_or_404(checker: SpecChecker) -> None:
    with AirbyteStub(known_connections={CONNECTION_ID}) as stub:
        client = ApiClient(stub, checker)
        connection = client.call("getConnection", 200)
        assert (connection["connectionId"], connection["status"]) == (CONNECTION_ID, "active")
        missing = client.call("getConnection", 404, connection_id=UNKNOWN_CONNECTION_ID)
        assert missing["data"] == {"resourceType": "connection", "resourceId": UNKNOWN_CONNECTION_ID}
        client.call("getConnection", 422, connection_id="not-a-uuid")
        stub.forget_connection(CONNECTION_ID)
        client.call("getConnection", 404)


def test_cancelling_any_job_cancels_the_connections_current_one(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    sync = _create(open_client, "sync")
    for _ in range(2):
        open_client.call("getJob", 200, job_id=sync["jobId"])  # succeeded
    reset = _create(open_client, "reset")
    # Asked to cancel the finished sync, Airbyte cancels the connection's current job: the reset.
    cancelled = open_client.call("cancelJob", 200, job_id=sync["jobId"])
    assert cancelled["jobId"] == reset["jobId"] and cancelled["status"] == "cancelled"
    assert open_stub.jobs[sync["jobId"]]["status"] == "succeeded"
    assert open_client.call("cancelJob", 409, job_id=reset["jobId"])["title"] == "state-conflict"


def test_refresh_and_malformed_bodies_are_422(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    assert _create(open_client, "refresh", expect=422)["detail"]  # a problem body
    # Bodies that do not deserialise: only an error id.
    for body in ({"connectionId": CONNECTION_ID, "jobType": "rebuild"}, {"jobType": "reset"}, [CONNECTION_ID]):
        answer = open_client.call("createJob", 422, json=body)
        assert set(answer) == {"errorId"}
    assert set(open_client.call("createJob", 422, data="[1, 2", headers={"Content-Type": "application/json"})) == {"errorId"}
    assert open_stub.jobs == {}


def test_cancel_running_job_then_conflict(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    job = _create(open_client, "reset")
    assert open_client.call("cancelJob", 200, job_id=job["jobId"])["status"] == "cancelled"
    assert open_client.call("getJob", 200, job_id=job["jobId"])["status"] == "cancelled"
    body = open_client.call("cancelJob", 409, job_id=job["jobId"])
    assert body["title"] == "state-conflict"
    assert open_stub.jobs[job["jobId"]]["status"] == "cancelled"


def test_get_job_with_bad_or_unknown_id(open_client: ApiClient) -> None:
    assert open_client.call("getJob", 400, job_id="12x")["title"] == "bad-request"
    body = open_client.call("getJob", 404, job_id=4242)
    assert body["data"] == {"resourceType": "job", "resourceId": "4242"}


def test_list_jobs_filters_orders_and_pages(open_client: ApiClient) -> None:
    reset = _create(open_client, "reset")
    for _ in range(2):
        open_client.call("getJob", 200, job_id=reset["jobId"])  # succeeded
    sync = _create(open_client, "sync")
    other = _create(open_client, "clear", OTHER_CONNECTION_ID)
    open_client.call("getJob", 200, job_id=other["jobId"])  # pending -> running: the latest update

    def job_ids(**params: Any) -> list[int]:
        return [job["jobId"] for job in open_client.call("listJobs", 200, params=params)["data"]]

    assert job_ids() == [other["jobId"], sync["jobId"], reset["jobId"]]
    assert job_ids(orderBy="createdAt|ASC") == [reset["jobId"], sync["jobId"], other["jobId"]]
    assert job_ids(orderBy="updatedAt|DESC")[0] == other["jobId"]
    assert job_ids(connectionId=CONNECTION_ID, orderBy="createdAt|ASC") == [reset["jobId"], sync["jobId"]]
    assert job_ids(jobType="sync") == [sync["jobId"]]
    assert job_ids(status="running") == [other["jobId"], sync["jobId"]]
    assert job_ids(jobType="clear") == []  # a clear is stored as a reset

    page = open_client.call("listJobs", 200, params={"limit": 1, "offset": 1, "orderBy": "createdAt|ASC"})
    assert [job["jobId"] for job in page["data"]] == [sync["jobId"]]
    next_query = parse_qs(urlsplit(page["next"]).query)
    previous_query = parse_qs(urlsplit(page["previous"]).query)
    assert (next_query["offset"], previous_query["offset"]) == (["2"], ["0"])
    assert next_query["orderBy"] == ["createdAt|ASC"]
    for bad in ({"limit": 101}, {"offset": -1}, {"status": "done"}, {"orderBy": "jobId|DESC"}):
        open_client.call("listJobs", 400, params=bad)


# ---------------------------------------------------------------- behaviour: faults


def test_faults_are_consumed_in_order_and_only_by_their_operation(
    open_client: ApiClient, open_stub: AirbyteStub
) -> None:
    job = _create(open_client, "reset")
    open_stub.inject("getJob", Fault.status(503), Fault.status(429), Fault.status(500))
    open_client.call("listJobs", 200)
    statuses = []
    for _ in range(4):
        response = requests.get(f"{open_stub.url}/jobs/{job['jobId']}", timeout=REQUEST_TIMEOUT)
        statuses.append(response.status_code)
    assert statuses == [503, 429, 500, 200]
    # Faulted polls do not advance the job: the one real poll moved it one step.
    assert open_stub.jobs[job["jobId"]]["status"] == "running"


def test_a_faulted_create_job_creates_no_job(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    open_stub.inject("createJob", Fault.status(500), Fault.status(409))
    _create(open_client, "reset", expect=500)
    _create(open_client, "reset", expect=409)
    assert open_stub.jobs == {}
    assert _create(open_client, "reset")["jobId"] == 1001


def test_faults_come_before_authentication(client: ApiClient, stub: AirbyteStub) -> None:
    stub.inject("listJobs", Fault.status(503))
    client.call("listJobs", 503, authenticated=False)
    client.call("listJobs", 401, authenticated=False)


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault.status(200)
    with pytest.raises(ValueError):
        Fault.delay(-1)
    with pytest.raises(ValueError):
        AirbyteStub().inject("deleteEverything", Fault.disconnect())
    with pytest.raises(ValueError):
        AirbyteStub().script("reset", ["finished"])


# ---------------------------------------------------------------- behaviour: server lifecycle


def test_recorded_calls_are_frozen_and_can_be_cleared(open_client: ApiClient, open_stub: AirbyteStub) -> None:
    open_client.call("listJobs", 200, params={"limit": 5})
    call = open_stub.calls[-1]
    assert call == RecordedCall("GET", "/jobs", "listJobs", {"limit": "5"}, None, 200, None)
    with pytest.raises(AttributeError):
        call.status = 500  # type: ignore[misc]
    open_stub.reset_calls()
    assert open_stub.calls == [] and open_stub.operations() == []
    requests.get(f"{open_stub.url}/nowhere", timeout=REQUEST_TIMEOUT)
    assert open_stub.operations() == [] and open_stub.calls[-1].operation_id is None


def test_stub_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError):
        AirbyteStub(host="0.0.0.0")
    with AirbyteStub(base_path="/v1") as stub:
        assert stub.url.startswith("http://127.0.0.1:") and stub.url.endswith("/v1")


def test_stop_closes_kept_alive_connections() -> None:
    stub = AirbyteStub().start()
    session = requests.Session()
    assert session.get(f"{stub.url}/jobs", timeout=REQUEST_TIMEOUT).status_code == 200
    stub.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{stub.url}/jobs", timeout=REQUEST_TIMEOUT)


def test_serve_prints_its_url_and_stops_on_keyboard_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def interrupt_after_one_request(seconds: float) -> None:
        url = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
        seen["url"] = url
        seen["status"] = requests.get(f"{url}/jobs", timeout=REQUEST_TIMEOUT).status_code
        raise KeyboardInterrupt

    monkeypatch.setattr(
        stub_module, "time", types.SimpleNamespace(sleep=interrupt_after_one_request, monotonic=time.monotonic)
    )
    serve(0)
    assert seen["url"].startswith("http://127.0.0.1:") and seen["url"].endswith("/api/public/v1")
    assert seen["status"] == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{seen['url']}/jobs", timeout=REQUEST_TIMEOUT)
