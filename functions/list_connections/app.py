"""list-connections: the connections of the workspaces and tags the step names, every page of
them when the step says so (x-pages), and the connections it names besides (header
X-Connection-Ids, read here and not sent), so a run over many connections knows which to reset.

Airbyte reads no workspace and no tag as every connection the key may see. A fleet must never
mean that by leaving its selection out, so a step that names no workspace, no tag and no
connection is refused before any request."""

from dataclasses import replace
from typing import Any

from airbyte_client.client import ApiResponse
from airbyte_client.errors import InvalidInput, UnsupportedOperation
from airbyte_client.handler import StepRequest, step_function
from arazzo_runtime.pages import follow_pages

# The query parameters that page Airbyte's listing: the function sends both on every page.
OFFSET, LIMIT = "offset", "limit"
# The connections named besides the selection: the workflow's own header, never sent.
NAMED_CONNECTIONS = "X-Connection-Ids"
# The most connections one fleet execution runs. The list and every connection's result (its
# ids, execution ARN and figures, about 500 bytes) travel in the fleet's state data, which Step
# Functions bounds at 256 KiB: a longer list would run every connection and then fail to
# report them. Refused here, before anything is reset; a larger fleet is split by workspace or
# tag (docs: How it works, Fleets).
MAX_CONNECTIONS = 400


@step_function("listConnections")
def lambda_handler(request: StepRequest, airbyte_client):
    workspace_ids = request.query_uuids("workspaceIds")
    tag_ids = request.query_uuids("tagIds")
    include_deleted = request.query_flag("includeDeleted")
    limit = request.query_limit(LIMIT)
    offset = request.query_offset(OFFSET)
    named = request.header_uuids(NAMED_CONNECTIONS)
    if not workspace_ids and not tag_ids and not named:
        raise InvalidInput(f"{request.step}: name connections, workspaces or tags: with none, Airbyte lists every connection the key may see, and a run would reset them all")
    pages = request.pages
    if pages is not None and (pages.offset != OFFSET or pages.limit not in (None, LIMIT)):
        # Airbyte's own `next` link leaves tagIds out (AirbyteClient.list_connections): only its offset pages.
        given = f"next {pages.next}" if pages.next else f"offset {pages.offset}, limit {pages.limit}"
        raise UnsupportedOperation(f"{request.step}: listConnections pages by offset (x-pages offset: {OFFSET}, limit: {LIMIT}), not {given}")
    if not workspace_ids and not tag_ids:
        # Only connections named: nothing to list (each run reads its own connection first).
        return _bounded(request.step, _with_named(ApiResponse(200, {}, {"data": []}), named))
    client = airbyte_client()

    def page(at: int) -> ApiResponse:
        return client.list_connections(workspace_ids=workspace_ids, tag_ids=tag_ids, include_deleted=include_deleted, limit=limit, offset=at)

    if pages is None:
        return _bounded(request.step, _with_named(page(offset), named))
    # The function always sends the limit, so it knows the page size: a short page is the last.
    merged = follow_pages(request.step, replace(pages, limit=LIMIT), {**request.query, OFFSET: offset, LIMIT: limit}, lambda asked: page(asked.query[OFFSET]))
    # The last page's request is the one `$url` and `$request` read (as x-pages says).
    return _bounded(request.step, _with_named(ApiResponse(merged.status_code, merged.headers, merged.body, merged.request), named))


def _bounded(step: str, answer: ApiResponse) -> ApiResponse:
    """The list, refused when it holds more connections than one fleet execution reports on."""
    body: Any = answer.body
    count = len(body["data"]) if isinstance(body, dict) and isinstance(body.get("data"), list) else 0
    if count > MAX_CONNECTIONS:
        raise InvalidInput(f"{step}: the selection holds {count} connections, more than the {MAX_CONNECTIONS} one fleet runs: "
                           "nothing was reset; split it into fleets by workspace or tag")
    return answer


def _with_named(listed: ApiResponse, named: list[str]) -> ApiResponse:
    """The listing, each connection once (Airbyte's query has no order, so a connection can
    move from one page to the next between two requests and be listed twice), then each
    connection named that it does not hold already."""
    body: Any = listed.body
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return listed
    held: set[Any] = set()
    connections = []
    for item in [*body["data"], *({"connectionId": connection_id} for connection_id in named)]:
        key = item.get("connectionId") if isinstance(item, dict) else None
        if key is None or key not in held:
            held.add(key)
            connections.append(item)
    return replace(listed, body={**body, "data": connections})
