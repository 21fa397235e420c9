"""list-connections: the connections of the workspaces and tags the step names, every page of
them when the step says so (x-pages), so a run over many connections knows which to reset."""

from dataclasses import replace

from airbyte_client.client import ApiResponse
from airbyte_client.errors import UnsupportedOperation
from airbyte_client.handler import StepRequest, step_function
from arazzo_runtime.pages import follow_pages

# The query parameters that page Airbyte's listing: the function sends both on every page.
OFFSET, LIMIT = "offset", "limit"


@step_function("listConnections")
def lambda_handler(request: StepRequest, airbyte_client):
    workspace_ids = request.query_uuids("workspaceIds")
    tag_ids = request.query_uuids("tagIds")
    include_deleted = request.query_flag("includeDeleted")
    limit = request.query_limit(LIMIT)
    offset = request.query_offset(OFFSET)
    pages = request.pages
    if pages is not None and (pages.offset != OFFSET or pages.limit not in (None, LIMIT)):
        # Airbyte's own `next` link leaves tagIds out (AirbyteClient.list_connections): only its offset pages.
        given = f"next {pages.next}" if pages.next else f"offset {pages.offset}, limit {pages.limit}"
        raise UnsupportedOperation(f"{request.step}: listConnections pages by offset (x-pages offset: {OFFSET}, limit: {LIMIT}), not {given}")

    def page(at: int) -> ApiResponse:
        return client.list_connections(workspace_ids=workspace_ids, tag_ids=tag_ids, include_deleted=include_deleted, limit=limit, offset=at)

    client = airbyte_client()
    if pages is None:
        return page(offset)
    # The function always sends the limit, so it knows the page size: a short page is the last.
    merged = follow_pages(request.step, replace(pages, limit=LIMIT), {**request.query, OFFSET: offset, LIMIT: limit}, lambda asked: page(asked.query[OFFSET]))
    return ApiResponse(merged.status_code, merged.headers, merged.body)
