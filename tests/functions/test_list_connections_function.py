"""Listing connections: `AirbyteClient.list_connections` (one page per call, sent as Airbyte's
server reads it) and the list-connections function, called as Lambda calls it, following the
step's x-pages through the runtime's pages module. A scripted server over real HTTP stands in
for Airbyte's GET /connections."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from airbyte_client.auth import NoAuth
from airbyte_client.client import AirbyteClient
from airbyte_client.config import Settings
from airbyte_client.errors import InvalidInput, TransientAirbyteError, UnsupportedOperation
from arazzo_runtime.errors import PageLimitExceeded
from arazzo_runtime.payload import PAYLOAD_VERSION
from arazzo_sfn.testing import Reply, ScriptedServer
from tests.lambda_context import LambdaContext

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "list_connections" / "app.py"
WORKSPACE_IDS = ["0f3a2f2e-7c1d-4a3b-8e9f-1a2b3c4d5e6f", "1a2b3c4d-0000-4000-8000-000000000001"]
TAG_ID = "7e57a9a0-1111-4222-8333-444455556666"
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:fleet:run-1"
CONTEXT = LambdaContext()


def connection(number: int, status: str = "active") -> dict:
    return {"connectionId": f"00000000-0000-4000-8000-{number:012d}", "name": f"c{number}", "status": status, "workspaceId": WORKSPACE_IDS[0]}


CONNECTIONS = [connection(n, "inactive" if n == 3 else "active") for n in range(1, 6)]


def page(items: list, offset: int, limit: int) -> Reply:
    """A page as Airbyte answers it: `next` whenever the page had an item, `previous` past the first."""
    return Reply(200, {
        "data": items,
        "next": f"https://api.airbyte.com/v1/connections?includeDeleted=false&limit={limit}&offset={offset + limit}" if items else "",
        "previous": "" if offset == 0 else f"https://api.airbyte.com/v1/connections?includeDeleted=false&limit={limit}&offset={max(offset - limit, 0)}",
    })


def load_function():
    spec = importlib.util.spec_from_file_location("lambda_function_list_connections_app", FUNCTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


list_connections = load_function()


# Every test starts like a fresh Lambda environment (tests/functions/conftest.py).
pytestmark = pytest.mark.usefixtures("cold_start")


def airbyte(monkeypatch, replies: list[Reply]) -> ScriptedServer:
    server = ScriptedServer({"GET /connections": replies})
    monkeypatch.setenv("AIRBYTE_API_URL", server.url)
    monkeypatch.setenv("AIRBYTE_SECRET_ID", "")
    return server


def event(query: dict | None = None, pages: dict | None = None, headers: dict | None = None) -> dict:
    payload = {
        "payloadVersion": PAYLOAD_VERSION,
        "step": "listConnections",
        "operationId": "listConnections",
        "source": "airbyteApi",
        "request": {"method": "GET", "path": "/connections", "query": {"workspaceIds": WORKSPACE_IDS, "limit": 2, **(query or {})}, "headers": headers or {}},
        "executionId": EXECUTION_ID,
    }
    if pages is not None:
        payload["pages"] = pages
    return payload


BY_OFFSET = {"items": "/data", "offset": "offset", "limit": "limit", "maxPages": 100}


# --- the client ------------------------------------------------------------------------------------


def test_the_client_asks_for_one_page_with_repeated_array_parameters():
    with ScriptedServer({"GET /connections": page(CONNECTIONS[:2], 0, 2)}) as server:
        client = AirbyteClient(Settings(server.url, NoAuth(), 1.0, 2.0))
        answer = client.list_connections(workspace_ids=WORKSPACE_IDS, tag_ids=[TAG_ID], limit=2, offset=4)

    assert answer.status_code == 200 and answer.body["data"] == CONNECTIONS[:2]
    (call,) = server.calls
    assert call.query == {"workspaceIds": WORKSPACE_IDS, "tagIds": [TAG_ID], "includeDeleted": ["false"], "limit": ["2"], "offset": ["4"]}


def test_the_client_leaves_out_empty_selections_and_spells_include_deleted_as_json():
    with ScriptedServer({"GET /connections": page([], 0, 20)}) as server:
        AirbyteClient(Settings(server.url, NoAuth(), 1.0, 2.0)).list_connections(include_deleted=True)

    assert server.calls[0].query == {"includeDeleted": ["true"], "limit": ["20"], "offset": ["0"]}


def test_a_page_airbyte_cannot_answer_now_is_transient():
    with ScriptedServer({"GET /connections": Reply(503, {"title": "unavailable"})}) as server:
        with pytest.raises(TransientAirbyteError, match=r"listConnections \(GET /connections"):
            AirbyteClient(Settings(server.url, NoAuth(), 1.0, 2.0)).list_connections()


# --- the function ----------------------------------------------------------------------------------


def test_the_function_follows_every_page_by_offset_and_answers_one_list(monkeypatch):
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2), page(CONNECTIONS[2:4], 2, 2), page(CONNECTIONS[4:], 4, 2)]) as server:
        answer = list_connections(event({"tagIds": [TAG_ID]}, BY_OFFSET), CONTEXT)

    assert answer["statusCode"] == 200
    assert answer["body"]["data"] == CONNECTIONS
    # The first page's links: `previous` is "" there.
    assert answer["body"]["previous"] == ""
    assert [(call.query["offset"], call.query["limit"]) for call in server.calls] == [(["0"], ["2"]), (["2"], ["2"]), (["4"], ["2"])]
    assert all(call.query["workspaceIds"] == WORKSPACE_IDS and call.query["tagIds"] == [TAG_ID] for call in server.calls)


def test_a_listing_that_fills_its_last_page_ends_at_the_empty_one_after(monkeypatch):
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2), page(CONNECTIONS[2:4], 2, 2), page([], 4, 2)]) as server:
        answer = list_connections(event(pages=BY_OFFSET), CONTEXT)

    assert answer["body"]["data"] == CONNECTIONS[:4]
    assert len(server.calls) == 3


def test_select_keeps_what_the_step_reads_of_each_connection(monkeypatch):
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2), page(CONNECTIONS[2:3], 2, 2)]):
        answer = list_connections(event(pages={**BY_OFFSET, "select": ["/connectionId", "/status"]}), CONTEXT)

    assert answer["body"]["data"] == [{"connectionId": c["connectionId"], "status": c["status"]} for c in CONNECTIONS[:3]]


def test_without_x_pages_the_function_answers_one_page(monkeypatch):
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2)]) as server:
        answer = list_connections(event({"offset": 2}), CONTEXT)

    assert answer["body"]["data"] == CONNECTIONS[:2]
    assert [call.query["offset"] for call in server.calls] == [["2"]]


def test_more_pages_than_max_pages_fail_the_step(monkeypatch):
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2), page(CONNECTIONS[2:4], 2, 2)]) as server:
        with pytest.raises(PageLimitExceeded, match="more than 2 pages"):
            list_connections(event(pages={**BY_OFFSET, "maxPages": 2}), CONTEXT)
    assert len(server.calls) == 2


def test_a_page_airbyte_refuses_fails_the_step_with_the_clients_error(monkeypatch):
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2), Reply(429, {"title": "rate limited"})]):
        with pytest.raises(TransientAirbyteError, match="HTTP 429"):
            list_connections(event(pages=BY_OFFSET), CONTEXT)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"workspaceIds": ["nope"]}, "workspaceIds"),
        ({"tagIds": [7]}, "tagIds"),
        ({"includeDeleted": "yes"}, "includeDeleted"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_queries_are_refused_before_any_call(monkeypatch, query, field):
    with airbyte(monkeypatch, [page([], 0, 2)]) as server:
        with pytest.raises(InvalidInput, match=field):
            list_connections(event(query, BY_OFFSET), CONTEXT)
    assert server.calls == []


def test_paging_by_airbytes_next_link_is_refused_it_leaves_the_tags_out(monkeypatch):
    with airbyte(monkeypatch, [page([], 0, 2)]) as server:
        with pytest.raises(UnsupportedOperation, match="pages by offset"):
            list_connections(event(pages={"items": "/data", "next": "/next", "maxPages": 100}), CONTEXT)
    assert server.calls == []


# --- connections named besides the selection ----------------------------------------------------


NAMED = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"


def test_connections_named_alone_are_the_list_and_nothing_is_asked_of_airbyte(monkeypatch):
    with airbyte(monkeypatch, [page([], 0, 2)]) as server:
        answer = list_connections(event({"workspaceIds": None}, BY_OFFSET, {"X-Connection-Ids": [NAMED.upper(), CONNECTIONS[0]["connectionId"]]}), CONTEXT)

    assert answer["body"]["data"] == [{"connectionId": NAMED}, {"connectionId": CONNECTIONS[0]["connectionId"]}]
    assert server.calls == []


def test_connections_named_besides_a_selection_follow_it_each_once(monkeypatch):
    # Airbyte's listing has no order: a connection may come on two pages.
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2), page([CONNECTIONS[1], CONNECTIONS[2]], 2, 2), page([], 4, 2)]):
        answer = list_connections(event(None, BY_OFFSET, {"X-Connection-Ids": [CONNECTIONS[0]["connectionId"], NAMED]}), CONTEXT)

    assert [item["connectionId"] for item in answer["body"]["data"]] == [*(c["connectionId"] for c in CONNECTIONS[0:3]), NAMED]


def test_a_step_that_names_no_connection_workspace_or_tag_is_refused_before_any_call(monkeypatch):
    """Airbyte would answer every connection the key may see, and a fleet would reset them all."""
    with airbyte(monkeypatch, [page(CONNECTIONS, 0, 2)]) as server:
        with pytest.raises(InvalidInput, match="name connections, workspaces or tags"):
            list_connections(event({"workspaceIds": None, "tagIds": None}, BY_OFFSET, {"X-Connection-Ids": None}), CONTEXT)
    assert server.calls == []


def test_named_connections_must_be_uuids(monkeypatch):
    with airbyte(monkeypatch, [page([], 0, 2)]) as server:
        with pytest.raises(InvalidInput, match="X-Connection-Ids"):
            list_connections(event(None, BY_OFFSET, {"X-Connection-Ids": ["not-a-uuid"]}), CONTEXT)
    assert server.calls == []


def test_a_selection_larger_than_one_fleet_reports_on_is_refused_before_anything_is_reset(monkeypatch):
    module_bound = 400
    many = [connection(n) for n in range(1, module_bound + 2)]
    pages = [page(many[offset:offset + 100], offset, 100) for offset in range(0, len(many), 100)]
    with airbyte(monkeypatch, pages):
        with pytest.raises(InvalidInput, match="holds 401 connections, more than the 400 one fleet runs: nothing was reset"):
            list_connections(event({"limit": 100}, BY_OFFSET), CONTEXT)


def test_the_url_and_query_a_paged_listing_sent_are_the_last_pages(monkeypatch):
    reading = {"keep": {"outputs": {"url": "$url", "offset": "$request.query.offset", "tags": "$request.query.tagIds", "named": "$request.header.X-Connection-Ids"}}}
    with airbyte(monkeypatch, [page(CONNECTIONS[0:2], 0, 2), page(CONNECTIONS[2:4], 2, 2), page(CONNECTIONS[4:], 4, 2)]) as server:
        answer = list_connections({**event({"tagIds": [TAG_ID]}, BY_OFFSET, {"X-Connection-Ids": [NAMED]}), **reading}, CONTEXT)

    outputs = answer["outputs"]
    assert outputs["url"].startswith(f"{server.url}/connections?") and outputs["url"].endswith("&limit=2&offset=4")
    # The header names connections for the function; it is not sent to Airbyte.
    assert (outputs["offset"], outputs["tags"], outputs["named"]) == (4, [TAG_ID], None)


def test_a_listing_of_named_connections_alone_sent_nothing_for_its_outputs_to_read(monkeypatch):
    reading = {"keep": {"outputs": {"url": "$url", "method": "$method"}}}
    with airbyte(monkeypatch, [page([], 0, 2)]):
        answer = list_connections({**event({"workspaceIds": None}, None, {"X-Connection-Ids": [NAMED]}), **reading}, CONTEXT)

    assert answer["outputs"] == {"url": None, "method": None}
