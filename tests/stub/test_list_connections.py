"""listConnections on the stub as Airbyte's server answers it: connections in workspaces and
carrying tags, the workspaceIds/tagIds/includeDeleted filters, limit and offset with their
bounds, and the next/previous links, each answer checked against Airbyte's own description of
ConnectionsResponse (openapi/upstream/api_documentation_connections.yaml). Where each behaviour
was read in the server's code is said above `AirbyteStub._list_connections`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from airbyte_resync.stub import WORKSPACE_ID, AirbyteStub, Fault, tag_id
from tests.stub.test_stub_conformance import CLIENT_ID, CLIENT_SECRET, UPSTREAM_CONNECTIONS

OTHER_WORKSPACE = "2c1d0e9f-8a7b-4c6d-9e5f-4a3b2c1d0e9f"
UNKNOWN_WORKSPACE = "11111111-2222-4333-8444-555555555555"
UPSTREAM_URI = "urn:airbyte-upstream:connections"
CONNECTIONS_RESPONSE = Draft202012Validator(
    {"$ref": f"{UPSTREAM_URI}#/components/schemas/ConnectionsResponse"},
    registry=Registry().with_resource(UPSTREAM_URI, DRAFT202012.create_resource(UPSTREAM_CONNECTIONS)),
)


def connection_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


# (connection number, workspace, status, tags): the order they are described in.
DESCRIBED = [
    (1, WORKSPACE_ID, "active", ["finance"]),
    (2, OTHER_WORKSPACE, "active", ["finance", "nightly"]),
    (3, WORKSPACE_ID, "inactive", ["nightly"]),
    (4, OTHER_WORKSPACE, "locked", []),
    (5, WORKSPACE_ID, "deprecated", ["finance"]),
    (6, WORKSPACE_ID, "active", []),
]


@pytest.fixture
def stub() -> Iterator[AirbyteStub]:
    with AirbyteStub(known_connections=[]) as running:
        for number, workspace, status, tags in DESCRIBED:
            running.add_connection(connection_id(number), status=status, workspace_id=workspace, tags=tags)
        yield running


def listed(stub: AirbyteStub, query: str | dict[str, Any] = "", expect: int = 200) -> Any:
    if isinstance(query, str):
        response = requests.get(f"{stub.url}/connections{'?' + query if query else ''}", timeout=10)
    else:
        response = requests.get(f"{stub.url}/connections", params=query, timeout=10)
    assert response.status_code == expect, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    if expect == 200:
        errors = [error.message for error in CONNECTIONS_RESPONSE.iter_errors(body)]
        assert not errors, errors
    return body


def numbers(body: dict[str, Any]) -> list[int]:
    return [int(connection["connectionId"][-12:]) for connection in body["data"]]


def test_a_connection_belongs_to_a_workspace_and_carries_its_tags(stub: AirbyteStub) -> None:
    [second] = [item for item in listed(stub)["data"] if item["connectionId"] == connection_id(2)]
    assert second["workspaceId"] == OTHER_WORKSPACE
    assert [(tag["name"], tag["tagId"], tag["workspaceId"]) for tag in second["tags"]] == [
        ("finance", tag_id("finance", OTHER_WORKSPACE), OTHER_WORKSPACE),
        ("nightly", tag_id("nightly", OTHER_WORKSPACE), OTHER_WORKSPACE),
    ]
    assert tag_id("finance", OTHER_WORKSPACE) != tag_id("finance")  # a tag is a workspace's own
    assert requests.get(f"{stub.url}/connections/{connection_id(2)}", timeout=10).json() == second
    assert stub.connections[connection_id(2)] == second


def test_without_a_selection_every_workspace_is_listed_and_deleted_ones_left_out(stub: AirbyteStub) -> None:
    body = listed(stub)
    # Inactive and locked connections are listed; deleted (deprecated) ones only when asked.
    # Within a page, the server groups connections by workspace.
    assert numbers(body) == [1, 3, 6, 2, 4]
    assert numbers(listed(stub, "includeDeleted=true")) == [1, 3, 5, 6, 2, 4]
    assert numbers(listed(stub, "includeDeleted=yes")) == [1, 3, 5, 6, 2, 4]  # Micronaut's true
    assert numbers(listed(stub, "includeDeleted=1")) == [1, 3, 6, 2, 4]  # ... and 1 is not


@pytest.mark.parametrize(
    "query",
    [
        f"workspaceIds={OTHER_WORKSPACE}",
        f"workspaceIds={OTHER_WORKSPACE},{OTHER_WORKSPACE.upper()}",
    ],
)
def test_workspace_ids_select_the_workspaces(stub: AirbyteStub, query: str) -> None:
    assert numbers(listed(stub, query)) == [2, 4]


def test_workspace_ids_are_read_repeated_or_comma_separated_but_not_both(stub: AirbyteStub) -> None:
    both = [1, 3, 6, 2, 4]
    assert numbers(listed(stub, f"workspaceIds={WORKSPACE_ID}&workspaceIds={OTHER_WORKSPACE}")) == both
    assert numbers(listed(stub, f"workspaceIds={WORKSPACE_ID},{OTHER_WORKSPACE}")) == both
    assert [call.query_values["workspaceIds"] for call in stub.calls] == [[WORKSPACE_ID, OTHER_WORKSPACE], [f"{WORKSPACE_ID},{OTHER_WORKSPACE}"]]
    assert numbers(listed(stub, f"workspaceIds={WORKSPACE_ID}%2C{OTHER_WORKSPACE}")) == both  # as next encodes it
    refused = listed(stub, f"workspaceIds={WORKSPACE_ID},{OTHER_WORKSPACE}&workspaceIds={WORKSPACE_ID}", expect=400)
    assert "Invalid UUID string" in refused["_embedded"]["errors"][0]["message"]
    listed(stub, "workspaceIds=not-a-uuid", expect=400)


def test_an_unknown_workspace_is_forbidden(stub: AirbyteStub) -> None:
    body = listed(stub, f"workspaceIds={WORKSPACE_ID}&workspaceIds={UNKNOWN_WORKSPACE}", expect=403)
    assert (body["title"], body["status"]) == ("forbidden", 403)
    assert "workspace_reader" in body["data"]["message"]
    stub.add_workspace(UNKNOWN_WORKSPACE)
    assert listed(stub, f"workspaceIds={UNKNOWN_WORKSPACE}") == {"previous": "", "next": "", "data": []}


def test_tag_ids_select_connections_with_any_of_the_tags(stub: AirbyteStub) -> None:
    finance, nightly = tag_id("finance"), tag_id("nightly")
    assert numbers(listed(stub, f"tagIds={finance}")) == [1]
    assert numbers(listed(stub, f"tagIds={finance}&tagIds={nightly}")) == [1, 3]
    assert numbers(listed(stub, f"tagIds={finance},{tag_id('nightly', OTHER_WORKSPACE)}")) == [1, 2]  # listed once
    assert numbers(listed(stub, f"tagIds={finance}&includeDeleted=true")) == [1, 5]
    assert numbers(listed(stub, f"tagIds={finance}&workspaceIds={OTHER_WORKSPACE}")) == []


def test_pages_and_their_links_are_the_servers(stub: AirbyteStub) -> None:
    base = f"{stub.url}/connections?includeDeleted=false&workspaceIds={WORKSPACE_ID}%2C{OTHER_WORKSPACE}"
    selection = {"workspaceIds": f"{WORKSPACE_ID},{OTHER_WORKSPACE}", "tagIds": tag_id("nightly"), "limit": 2}
    first = listed(stub, {**selection, "tagIds": ""})
    assert numbers(first) == [1, 2] and first["previous"] == "" and first["next"] == f"{base}&limit=2&offset=2"
    second = listed(stub, {**selection, "tagIds": "", "offset": 2})
    assert numbers(second) == [3, 4]
    # previous is built on the builder that built next: limit appears twice.
    assert second["previous"] == f"{base}&limit=2&limit=2&offset=0" and second["next"] == f"{base}&limit=2&offset=4"
    last = listed(stub, {**selection, "tagIds": "", "offset": 4})
    assert numbers(last) == [6] and last["next"] == f"{base}&limit=2&offset=6"  # a page not empty has a next
    beyond = listed(stub, {**selection, "tagIds": "", "offset": 6})
    assert beyond == {"previous": f"{base}&limit=2&offset=4", "next": "", "data": []}
    # The links never carry tagIds: following next drops the tag filter.
    tagged = listed(stub, selection)
    assert numbers(tagged) == [3] and "tagIds" not in tagged["next"]
    assert numbers(requests.get(tagged["next"], timeout=10).json()) == [3, 4]
    listed(stub, urlsplit(second["previous"]).query, expect=400)  # the server refuses its own previous link


def test_following_next_until_an_empty_page_lists_each_connection_once(stub: AirbyteStub) -> None:
    seen, url, pages = [], f"{stub.url}/connections?limit=2", 0
    while url:
        body = requests.get(url, timeout=10).json()
        seen += numbers(body)
        url, pages = body["next"], pages + 1
    assert sorted(seen) == [1, 2, 3, 4, 6] and pages == 4  # three pages, then the empty one


@pytest.mark.parametrize(("limit", "offset"), [("0", "0"), ("101", "0"), ("-1", "0"), ("20", "-1"), ("9999999999", "0")])
def test_limit_and_offset_out_of_bounds_get_the_servers_400(stub: AirbyteStub, limit: str, offset: str) -> None:
    body = listed(stub, f"limit={limit}&offset={offset}", expect=400)
    if limit == "9999999999":  # not an int32: a conversion error, not a bound
        assert body["message"] == "Bad Request"
    else:
        assert set(body) == {"errorId"}


def test_limit_defaults_to_20_and_takes_at_most_100() -> None:
    with AirbyteStub(known_connections=[]) as stub:
        for number in range(1, 106):
            stub.add_connection(connection_id(number))
        assert len(listed(stub)["data"]) == 20
        assert numbers(listed(stub, "limit=100&offset=100")) == list(range(101, 106))
        assert listed(stub, "limit=abc", expect=400)["_embedded"]["errors"][0]["message"].startswith("Failed to convert argument [limit]")


def test_list_connections_is_authenticated_and_takes_faults() -> None:
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as stub:
        assert requests.get(f"{stub.url}/connections", timeout=10).json()["title"] == "invalid-api-key"
        stub.inject("listConnections", Fault.status(503))
        assert requests.get(f"{stub.url}/connections", timeout=10).status_code == 503
        assert [call.operation_id for call in stub.calls] == ["listConnections", "listConnections"]
        assert requests.post(f"{stub.url}/connections", json={}, timeout=10).status_code == 405


def test_listed_connections_are_the_known_ones(stub: AirbyteStub) -> None:
    stub.forget_connection(connection_id(1))
    assert 1 not in numbers(listed(stub))
    with AirbyteStub(known_connections=[connection_id(9), connection_id(8)]) as named:
        named.set_connection_status(connection_id(8), "inactive")
        assert [(item["connectionId"], item["status"]) for item in listed(named)["data"]] == [
            (connection_id(9), "active"),
            (connection_id(8), "inactive"),
        ]
    with AirbyteStub() as open_stub:  # any UUID exists, none is described: none is listed
        assert listed(open_stub)["data"] == []
        assert dict(parse_qsl(urlsplit(listed(open_stub, "offset=3")["previous"]).query)) == {
            "includeDeleted": "false",
            "limit": "20",
            "offset": "0",
        }
