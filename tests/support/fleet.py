"""A fleet of connections for the Airbyte stub: N connections spread over workspaces and tags,
some of them inactive, for the tests of a run over many connections. The ids are the same in
every run, so a test can name the connections it expects in each outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airbyte_resync import scenario
from airbyte_resync.stub import AirbyteStub, tag_id

DEFAULT_TAGS = ("finance", "nightly")


def fleet_connection_id(number: int) -> str:
    return f"f1ee7000-0000-4000-8000-{number:012d}"


def fleet_workspace_id(number: int) -> str:
    return f"f1ee7a00-0000-4000-8000-{number:012d}"


@dataclass(frozen=True)
class FleetConnection:
    connection_id: str
    workspace_id: str
    status: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Fleet:
    connections: tuple[FleetConnection, ...]
    workspaces: tuple[str, ...]

    def ids(self, *, workspace: str | None = None, tag: str | None = None, status: str | None = None) -> list[str]:
        """The connections' ids, in order, of a workspace, carrying a tag (by name) and/or of
        a status."""
        return [
            connection.connection_id
            for connection in self.connections
            if (workspace is None or connection.workspace_id == workspace)
            and (tag is None or tag in connection.tags)
            and (status is None or connection.status == status)
        ]

    @property
    def active_ids(self) -> list[str]:
        return self.ids(status="active")

    @property
    def not_active_ids(self) -> list[str]:
        return [connection.connection_id for connection in self.connections if connection.status != "active"]

    def tag_id(self, name: str, workspace: str) -> str:
        """The tagId the stub gives tag `name` of `workspace` (a tag belongs to one workspace)."""
        return tag_id(name, workspace)

    def document(self, *, failing_syncs: tuple[str, ...] = (), failing_resets: tuple[str, ...] = ()) -> dict[str, Any]:
        """The scenario document (what a file for `airbyte-resync stub --scenario` holds):
        these connections, each named one's sync or reset failing after a poll."""
        connections: dict[str, Any] = {}
        for connection in self.connections:
            described: dict[str, Any] = {"status": connection.status, "workspace": connection.workspace_id, "tags": list(connection.tags)}
            if connection.connection_id in failing_syncs:
                described["sync"] = [["running", "failed"]]
            if connection.connection_id in failing_resets:
                described["reset"] = [["running", "failed"]]
            connections[connection.connection_id] = described
        return {"connections": connections}

    def scenario(self, **failing: tuple[str, ...]) -> scenario.Scenario:
        return scenario.parse(self.document(**failing), "fleet")

    def play_on(self, stub: AirbyteStub, **failing: tuple[str, ...]) -> None:
        """Describe the fleet to a started stub. A stub accepts connections it was not told
        of unless made with `known_connections=[]` (or `self.scenario().stub()`)."""
        self.scenario(**failing).start_playing(stub)


def fleet(size: int = 30, *, workspaces: int = 2, tags: tuple[str, ...] = DEFAULT_TAGS, not_active_every: int = 10) -> Fleet:
    """`size` connections, the n-th (from 0) in workspace n % `workspaces`, carrying tag
    n % len(tags) (every third one all the tags), and every `not_active_every`-th one (the
    last of each run of that many) not active: inactive, then locked, in turn. Deleted
    (deprecated) connections are left to the test, as listConnections leaves them out."""
    if size < 1 or workspaces < 1 or not_active_every < 1:
        raise ValueError("size, workspaces and not_active_every must be at least 1")
    workspace_ids = tuple(fleet_workspace_id(number) for number in range(workspaces))
    connections = []
    for number in range(size):
        carried = tags if tags and number % 3 == 0 else tags[number % len(tags) : number % len(tags) + 1] if tags else ()
        not_active = number % not_active_every == not_active_every - 1
        status = ("inactive", "locked")[(number // not_active_every) % 2] if not_active else "active"
        connections.append(FleetConnection(fleet_connection_id(number), workspace_ids[number % workspaces], status, tuple(carried)))
    return Fleet(tuple(connections), workspace_ids)
