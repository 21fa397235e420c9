"""Listing every page (`x-pages`): the step's function follows every page of its listing and
the workflow sees one response whose item array holds every page's items. Run in moto
against a scripted server with the harness of `test_constructs`: offset pages (the last one
short), next links, `select`, an empty list, `maxPages` reached, and a page that fails."""

from __future__ import annotations

from pathlib import Path

from arazzo_sfn.compiler import compile_bundle
from arazzo_sfn.testing import Reply
from tests.conformance.test_constructs import Execution, assert_step_failed, execute

DOCUMENT = Path(__file__).resolve().parents[1] / "fixtures" / "documents" / "pages" / "pages.arazzo.yaml"
ITEMS = [{"id": f"i{n}", "name": name, "tags": [f"t{n}", "x"], "notes": "long"} for n, name in enumerate("abcde", start=1)]


def page(items: list, total: int = 5) -> Reply:
    return Reply(200, {"data": items, "total": total})


def list_items(workflow_id: str, replies: list[Reply], inputs: dict | None = None) -> Execution:
    return execute(DOCUMENT, {"GET /items": replies}, inputs=inputs, workflow_id=workflow_id)


def offsets(execution: Execution) -> list[tuple[str, str]]:
    return [(call.query["offset"][0], call.query["limit"][0]) for call in execution.server.calls]


def test_the_payload_carries_x_pages_for_the_function():
    asl = compile_bundle(DOCUMENT, "list-selected")["list-selected"]
    pages = asl["States"]["listItems"]["Parameters"]["Payload"]["pages"]
    assert pages == {"items": "/data", "offset": "offset", "limit": "limit", "select": ["/id", "/tags/0"], "maxPages": 100}


def test_offset_pages_are_followed_until_a_short_page_and_the_step_sees_every_item():
    execution = list_items("list-by-offset", [page(ITEMS[0:2]), page(ITEMS[2:4]), page(ITEMS[4:])])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert offsets(execution) == [("0", "2"), ("2", "2"), ("4", "2")]
    # The step's own parameters go with every page.
    assert all(call.query["color"] == ["red"] for call in execution.server.calls)
    # Outputs read the merged body: the first page's, with every item, the last one among them.
    assert execution.result.output == {"items": ITEMS, "total": 5, "lastName": "e"}


def test_next_links_are_followed_until_a_page_has_none():
    entries = [{"id": f"e{n}"} for n in range(1, 5)]
    feed = [
        Reply(200, {"entries": entries[0:2], "links": {"next": "/feed?cursor=c2"}}),
        Reply(200, {"entries": entries[2:3], "links": {"next": "feed?cursor=c3"}}),  # relative to the page's URL
        Reply(200, {"entries": entries[3:], "links": {"next": None}}),
    ]
    execution = execute(DOCUMENT, {"GET /feed": feed}, workflow_id="list-by-link")

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert [call.query.get("cursor") for call in execution.server.calls] == [None, ["c2"], ["c3"]]
    # The jsonpath criterion found e3, which only the second page holds.
    assert execution.result.output == {"entries": entries}


def test_select_keeps_only_the_named_members_of_each_item():
    execution = list_items("list-selected", [page(ITEMS[0:2]), page(ITEMS[2:4]), page(ITEMS[4:])])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.result.output == {"items": [{"id": item["id"], "tags": [item["tags"][0]]} for item in ITEMS]}


def test_an_empty_list_is_one_page_and_an_empty_array():
    execution = list_items("list-by-offset", [page([], total=0)])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /items"]
    assert execution.result.output == {"items": [], "total": 0, "lastName": None}


def test_a_listing_longer_than_max_pages_fails_the_step_rather_than_answer_in_part():
    execution = list_items("list-two-pages-at-most", [page(ITEMS[0:2]), page(ITEMS[2:4]), page(ITEMS[4:])])

    assert execution.result.status == "FAILED"
    assert execution.result.error == "PageLimitExceeded"
    assert "more than 2 pages" in execution.result.cause
    assert len(execution.requests) == 2  # the third page is never asked for


def test_a_page_that_fails_fails_the_step_as_a_single_request_would():
    execution = list_items("list-by-offset", [page(ITEMS[0:2]), Reply(503, {"error": "try later"})])

    cause = assert_step_failed(execution, "listItems", 503)
    assert cause["response"] == {"error": "try later"}
    assert offsets(execution) == [("0", "2"), ("2", "2")]
