"""Listing every page (`arazzo_runtime.pages`): `follow_pages` with a scripted "send one
request" callable, as any function uses it, and `perform_pages`, the generic operation's,
over real HTTP against a scripted server (next links that leave the server are not followed)."""

from __future__ import annotations

from typing import Any

import pytest

from arazzo_runtime.errors import PageLimitExceeded, TransientHttpError, UnexpectedPage
from arazzo_runtime.evaluate import Response
from arazzo_runtime.pages import Page, follow_pages, perform_pages
from arazzo_runtime.payload import Pages
from arazzo_sfn.testing import Reply, ScriptedServer

BY_OFFSET = Pages(items="/data", offset="offset", limit="limit")
BY_LINK = Pages(items="/entries", next="/next")


class Pager:
    """Answers each page from a list of answers, and records the pages asked for."""

    def __init__(self, *answers: Response | Exception):
        self.answers = list(answers)
        self.asked: list[Page] = []

    def __call__(self, page: Page) -> Response:
        self.asked.append(page)
        answer = self.answers[len(self.asked) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def items(*names: str, **more: Any) -> Response:
    return Response(200, {"x-page": str(len(names))}, {"data": [{"id": name, "extra": 1} for name in names], "total": 5, **more})


def test_offset_pages_go_on_until_a_short_page_and_answer_as_one():
    pager = Pager(items("a", "b"), items("c", "d"), items("e"))

    answer = follow_pages("list", BY_OFFSET, {"limit": 2, "color": "red"}, pager)

    assert [dict(page.query) for page in pager.asked] == [{"limit": 2, "color": "red", "offset": offset} for offset in (0, 2, 4)]
    assert answer.body == {"data": [{"id": name, "extra": 1} for name in "abcde"], "total": 5}
    assert (answer.status_code, answer.headers) == (200, {"x-page": "1"})  # the last page's


def test_the_steps_own_offset_is_the_first_and_a_string_count_is_read_as_a_number():
    pager = Pager(items("c", "d"), items())

    follow_pages("list", BY_OFFSET, {"limit": "2", "offset": "10"}, pager)

    assert [page.query["offset"] for page in pager.asked] == [10, 12]


def test_without_a_limit_the_first_empty_page_is_the_last():
    pager = Pager(items("a", "b", "c"), items("d"), items())

    answer = follow_pages("list", BY_OFFSET, {}, pager)

    assert [page.query["offset"] for page in pager.asked] == [0, 3, 4]
    assert [item["id"] for item in answer.body["data"]] == ["a", "b", "c", "d"]


def test_links_are_followed_until_a_page_has_none_absent_null_or_empty():
    for last in ({}, {"next": None}, {"next": ""}):
        pager = Pager(Response(200, {}, {"entries": [1], "next": "?page=2"}), Response(200, {}, {"entries": [2], **last}))

        answer = follow_pages("feed", BY_LINK, {"q": "x"}, pager)

        assert [page.link for page in pager.asked] == [None, "?page=2"]
        # The first page's body, links and all, with every entry.
        assert answer.body == {"entries": [1, 2], "next": "?page=2"}


def test_a_body_that_is_the_array_is_answered_as_the_array():
    pager = Pager(Response(200, {}, [1, 2]), Response(200, {}, [3]))

    answer = follow_pages("list", Pages(items="", offset="offset", limit="limit"), {"limit": 2}, pager)

    assert answer.body == [1, 2, 3]


def test_select_keeps_only_the_named_members_of_each_item():
    pager = Pager(Response(200, {}, {"data": [{"id": 1, "tags": ["a", "b"], "x": 0}, {"other": 1}, 7]}), items())

    answer = follow_pages("list", Pages(items="/data", offset="offset", select=("/id", "/tags/0")), {}, pager)

    assert answer.body["data"] == [{"id": 1, "tags": ["a"]}, {}, None]


def test_a_page_that_is_not_2xx_is_the_answer_whole():
    refused = Response(503, {"retry-after": "5"}, {"error": "busy"})
    pager = Pager(items("a", "b"), refused)

    answer = follow_pages("list", BY_OFFSET, {"limit": 2}, pager)

    assert (answer.status_code, answer.headers, answer.body) == (503, {"retry-after": "5"}, {"error": "busy"})


def test_a_request_that_fails_fails_the_listing_with_its_own_error():
    pager = Pager(items("a", "b"), TransientHttpError("list: timed out"))

    with pytest.raises(TransientHttpError, match="timed out"):
        follow_pages("list", BY_OFFSET, {"limit": 2}, pager)


def test_more_pages_than_max_pages_fail_without_asking_for_the_next():
    pager = Pager(items("a", "b"), items("c", "d"), items("e"))

    with pytest.raises(PageLimitExceeded, match=r"list: the listing has more than 2 pages"):
        follow_pages("list", Pages(items="/data", offset="offset", limit="limit", max_pages=2), {"limit": 2}, pager)
    assert len(pager.asked) == 2


@pytest.mark.parametrize(
    ("pages", "query", "answer", "problem"),
    [
        (BY_OFFSET, {"limit": 2}, Response(200, {}, {"items": []}), "page 1 has nothing at '/data'"),
        (BY_OFFSET, {"limit": 2}, Response(200, {}, {"data": {"a": 1}}), "page 1 has an object at '/data'"),
        (BY_LINK, {}, Response(200, {}, {"entries": [], "next": 2}), "page 1 has a number at '/next'"),
        (BY_OFFSET, {"limit": 0}, items(), "query parameter limit pages the listing (x-pages) and must be an integer of at least 1"),
        (BY_OFFSET, {"offset": -1}, items(), "query parameter offset pages the listing (x-pages) and must be an integer of at least 0"),
        (BY_OFFSET, {"limit": True}, items(), "query parameter limit"),
    ],
)
def test_a_page_or_a_step_that_is_not_what_x_pages_says_is_refused(pages, query, answer, problem):
    with pytest.raises(UnexpectedPage) as raised:
        follow_pages("list", pages, query, Pager(answer))
    assert str(raised.value).startswith(f"list: {problem}")


# --- the generic operation's pages, over HTTP ---------------------------------------------------


def test_the_generic_operation_follows_links_on_its_server_with_the_steps_headers():
    replies = [
        Reply(200, {"entries": [1], "next": "/api/feed?cursor=c2&tag=a&tag=b"}),
        Reply(200, {"entries": [2], "next": None}),
    ]
    with ScriptedServer({"GET /api/feed": replies}) as server:
        request = {"method": "GET", "path": "/feed", "query": {"q": "x"}, "headers": {"X-Api-Key": "k"}}
        answer = perform_pages("feed", BY_LINK, request, server.url + "/api")

    assert answer.body == {"entries": [1, 2], "next": "/api/feed?cursor=c2&tag=a&tag=b"}
    first, second = server.calls
    assert first.query == {"q": ["x"]}
    assert second.query == {"cursor": ["c2"], "tag": ["a", "b"]}
    assert second.headers["x-api-key"] == "k"
    assert answer.request is not None and answer.request.query == {"cursor": "c2", "tag": ["a", "b"]}


@pytest.mark.parametrize(
    "link",
    ["https://elsewhere.example/api/feed?page=2", "/other/feed?page=2", "//evil.example/api/feed"],
    ids=["another-host", "outside-the-servers-path", "scheme-relative"],
)
def test_a_link_that_leaves_the_steps_server_is_not_followed(link):
    with ScriptedServer({"GET /api/feed": Reply(200, {"entries": [1], "next": link})}) as server:
        with pytest.raises(UnexpectedPage, match="links the next page outside the step's server"):
            perform_pages("feed", BY_LINK, {"method": "GET", "path": "/feed", "headers": {"X-Api-Key": "k"}}, server.url + "/api")
        assert len(server.calls) == 1
