"""Stage 1, load: read the Arazzo document and its OpenAPI source descriptions, keeping
the line and column of every node so later stages can point at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from arazzo_sfn.errors import LoadError, Location


@dataclass
class SourceMap:
    """JSON pointer -> (line, column) of the node, both 1-based."""

    file: str
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)

    def locate(self, pointer: str) -> Location:
        # Fall back to the nearest ancestor that has a position.
        probe = pointer
        while probe and probe not in self.positions:
            probe = probe.rsplit("/", 1)[0]
        line, column = self.positions.get(probe, (None, None))
        return Location(self.file, pointer, line, column)


@dataclass
class LoadedFile:
    path: Path
    data: Any
    source_map: SourceMap


@dataclass
class LoadedDocument:
    """The Arazzo document and, by source description name, the OpenAPI documents it uses."""

    arazzo: LoadedFile
    sources: dict[str, LoadedFile]


def load_document(path: str | Path) -> LoadedDocument:
    arazzo = load_yaml(Path(path))
    if not isinstance(arazzo.data, dict):
        raise LoadError("an Arazzo document must be a mapping", arazzo.source_map.locate(""))
    sources: dict[str, LoadedFile] = {}
    for index, source in enumerate(arazzo.data.get("sourceDescriptions") or []):
        if not isinstance(source, dict) or source.get("type", "openapi") != "openapi":
            continue  # arazzo-type sources are checked by validation, not loaded here
        name, url = source.get("name"), source.get("url")
        if not isinstance(name, str) or not isinstance(url, str):
            continue
        location = arazzo.source_map.locate(f"/sourceDescriptions/{index}/url")
        sources[name] = load_yaml(_resolve_local(arazzo.path, url, location), location)
    return LoadedDocument(arazzo, sources)


def load_yaml(path: Path, referenced_from: Location | None = None) -> LoadedFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LoadError(f"cannot read {path.name}: {exc.strerror}", referenced_from or Location(str(path))) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        location = Location(str(path), "", mark.line + 1, mark.column + 1) if mark else Location(str(path))
        raise LoadError(f"not valid YAML: {getattr(exc, 'problem', exc)}", location) from None
    finally:
        loader.dispose()
    source_map = SourceMap(str(path))
    if node is not None:
        _record_positions(node, "", source_map.positions)
    return LoadedFile(path, data, source_map)


# libyaml's loader when it is there: several times faster on large documents, same nodes.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _record_positions(node: yaml.Node, pointer: str, positions: dict[str, tuple[int, int]]) -> None:
    positions[pointer] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value).replace("~", "~0").replace("/", "~1")
            _record_positions(value_node, f"{pointer}/{key}", positions)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_positions(item, f"{pointer}/{index}", positions)


def _resolve_local(document: Path, url: str, location: Location) -> Path:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        raise LoadError(f"source description {url!r} is remote; compile from a local copy", location)
    if parts.scheme not in ("", "file"):
        raise LoadError(f"source description URL scheme {parts.scheme!r} is not supported", location)
    return (document.parent / parts.path).resolve()
