"""Listing every page: a step with `x-pages` (the payload's `pages`) follows every page of
its listing and answers one response whose item array holds every page's items.

`follow_pages` owns the paging and takes a "send one request" callable, so that every
function pages the same way, whoever sends the request: the generic operation through
`arazzo_runtime.http`, an Airbyte function through its client. Each call of `send` is one
request, with the function's own transport policy, timeouts and failures: a request that
fails (a transient error, a refusal) fails the step as a single request would, and the
Task's Retriers run the step again from its first page.

- Offset paging (`offset`, `limit`): the first page is asked at the step's own offset (0
  when it gives none), each next one at the offset after the items received so far. A page
  with fewer items than the step's `limit` is the last; without a limit, the first empty
  page is.
- Link paging (`next`): the first page is the step's own request; each next page is the URL
  at the JSON Pointer `next` of the page before (relative to that page's URL). A page whose
  link is absent, null or empty is the last.

The answer is the first page's body with the array at `items` replaced by every page's
items (each cut down to the members at `select`, when given), and the last page's status
and headers. A page answered with a status other than 2xx ends the listing: its answer is
the step's, whole, so the step's success criteria judge it as they would a single request's.
More pages than `max_pages` fail the step (`PageLimitExceeded`) rather than answer a list
that would look whole and is not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from arazzo_runtime.errors import PageLimitExceeded, UnexpectedPage
from arazzo_runtime.evaluate import Response, SentRequest
from arazzo_runtime.expressions import parse_pointer
from arazzo_runtime.http import DEFAULT_TIMEOUTS, perform, validate_server_url
from arazzo_runtime.nodes import MISSING, resolve_pointer
from arazzo_runtime.payload import OperationRequest, Pages, json_type
from arazzo_runtime.step import AnsweredRequest, sparse_copy


@dataclass(frozen=True)
class Page:
    """One page to ask for. `number` counts from 1. `query` is the step's query with the
    page's offset (offset paging; the step's own query for link paging); `link` is the next
    page's URL as the page before gave it (link paging, after the first page), None for the
    step's own request."""

    number: int
    query: Mapping[str, Any]
    link: str | None = None


# Sends one page's request and returns its answer (raising what a single request raises).
SendPage = Callable[[Page], AnsweredRequest]


def follow_pages(step: str, pages: Pages, query: Mapping[str, Any], send: SendPage) -> Response:
    """Every page of the step's listing, as one answer (see the module's docstring). `query`
    is the step's query as it sends it. Raises `PageLimitExceeded` past `max_pages`,
    `UnexpectedPage` for a page that is not what `pages` says, and what `send` raises."""
    items_at = parse_pointer(pages.items)
    # A parameter the step leaves out (or null: not sent) takes the server's default: offset 0,
    # and a page size the function does not know, so the first empty page is the last.
    given_offset = query.get(pages.offset) if pages.offset else None
    given_limit = query.get(pages.limit) if pages.limit else None
    offset = 0 if given_offset is None else _whole(step, pages.offset, given_offset, "an integer of at least 0", minimum=0)
    limit = None if given_limit is None else _whole(step, pages.limit, given_limit, "an integer of at least 1", minimum=1)
    items: list[Any] = []
    first: AnsweredRequest | None = None
    page = Page(1, dict(query) if pages.offset is None else {**query, pages.offset: offset})
    while True:
        answer = send(page)
        if not 200 <= answer.status_code < 300:
            return _as_response(answer, answer.body)
        found = resolve_pointer(answer.body, items_at)
        if not isinstance(found, list):
            what = "nothing" if found is MISSING else json_type(found)
            raise UnexpectedPage(f"{step}: page {page.number} has {what} at {pages.items!r}, not the array of items x-pages names")
        items.extend(_selected(item, pages.select) for item in found)
        first = first or answer
        following = _next_page(step, pages, page, answer, len(found), limit)
        if following is None:
            return _as_response(answer, _merged(first.body, items_at, items))
        if following.number > pages.max_pages:
            raise PageLimitExceeded(f"{step}: the listing has more than {pages.max_pages} pages (x-pages maxPages): it was not answered in part")
        page = following


def perform_pages(step: str, pages: Pages, request: OperationRequest, server_url: str, timeouts: tuple[float, float] = DEFAULT_TIMEOUTS) -> Response:
    """`follow_pages` for the generic operation: each page sent by `arazzo_runtime.http.perform`,
    the step's request with the page's query, or for a next link the step's request (method,
    headers, cookies) to the link's path and query. A link must lead to the step's server,
    under its URL's path: the step's headers (API keys among them) go nowhere else."""
    sent: list[str] = []

    def send(page: Page) -> AnsweredRequest:
        if page.link is None:
            outgoing: Mapping[str, Any] = {**request, "query": dict(page.query)}
        else:
            outgoing = _link_request(step, request, urljoin(sent[-1], page.link), server_url, page.number)
        answer = perform(outgoing, server_url, timeouts)
        sent.append(answer.request.url if answer.request is not None else server_url)
        return answer

    return follow_pages(step, pages, request.get("query", {}), send)


def _link_request(step: str, request: OperationRequest, url: str, server_url: str, number: int) -> dict[str, Any]:
    base, _ = validate_server_url(server_url)
    server, link = urlsplit(base), urlsplit(url)
    # Compared whole (scheme, host and port): http://host and https://host are two servers.
    if (link.scheme, link.netloc.lower()) != (server.scheme, server.netloc.lower()) or not (link.path + "/").startswith(server.path.rstrip("/") + "/"):
        raise UnexpectedPage(f"{step}: page {number - 1} links the next page outside the step's server ({server.hostname}): not followed")
    # Sent as the link writes it: a brace would read as a placeholder of the path template.
    path = (link.path[len(server.path.rstrip("/")):] or "/").replace("{", "%7B").replace("}", "%7D")
    pairs = parse_qsl(link.query, keep_blank_values=True)
    query: dict[str, Any] = {}
    for name in dict.fromkeys(name for name, _ in pairs):
        values = [value for key, value in pairs if key == name]
        query[name] = values[0] if len(values) == 1 else values  # a repeated name, as the step would give an array
    # The link's query replaces the step's, a whole query string (`queryString`) too.
    outgoing = {key: value for key, value in request.items() if key not in ("pathParameters", "query", "queryString")}
    return {**outgoing, "path": path, "query": query}


def _next_page(step: str, pages: Pages, page: Page, answer: AnsweredRequest, count: int, limit: int | None) -> Page | None:
    """The page after `page`, which had `count` items; None when `page` was the last."""
    if pages.offset is not None:
        if count == 0 or (limit is not None and count < limit):
            return None
        return Page(page.number + 1, {**page.query, pages.offset: page.query[pages.offset] + count})
    link = resolve_pointer(answer.body, parse_pointer(pages.next or ""))
    if link is MISSING or link is None or link == "":
        return None
    if not isinstance(link, str):
        raise UnexpectedPage(f"{step}: page {page.number} has {json_type(link)} at {pages.next!r}, not the next page's URL")
    return Page(page.number + 1, page.query, link)


def _whole(step: str, name: str | None, value: Any, expected: str, *, minimum: int) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UnexpectedPage(f"{step}: query parameter {name} pages the listing (x-pages) and must be {expected}, not {json_type(value)}")
    return value


def _selected(item: Any, select: tuple[str, ...]) -> Any:
    if not select:
        return item
    kept = sparse_copy(item, [parse_pointer(pointer) for pointer in select])
    return {} if kept is None and isinstance(item, dict) else kept


def _merged(body: Any, items_at: tuple[str, ...], items: list[Any]) -> Any:
    """The first page's body with the array at `items_at` replaced by `items`."""
    if not items_at:
        return items
    merged = copy.deepcopy(body)
    parent = resolve_pointer(merged, items_at[:-1])
    last = items_at[-1]
    parent[int(last) if isinstance(parent, list) else last] = items
    return merged


def _as_response(answer: AnsweredRequest, body: Any) -> Response:
    sent: SentRequest | None = answer.request if isinstance(answer, Response) else None
    return Response(answer.status_code, dict(answer.headers), body, sent)
