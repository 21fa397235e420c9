"""Stage 1, load: read the Arazzo document, its OpenAPI source descriptions and the Arazzo
documents its `type: arazzo` source descriptions name (each with its own sources, resolved
relative to its own file), keeping the line and column of every node so later stages can
point at it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import yaml

from arazzo_runtime.expressions import format_pointer
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


@dataclass(eq=False)
class LoadedDocument:
    """The Arazzo document and, by source description name, the OpenAPI documents it uses
    (`sources`) and the Arazzo documents whose workflows it may call (`documents`). A document
    named by several others is loaded once: they share the one LoadedDocument."""

    arazzo: LoadedFile
    sources: dict[str, LoadedFile]
    documents: dict[str, LoadedDocument] = field(default_factory=dict)

    @property
    def retrieval_uri(self) -> str:
        """The URI the document was read from: its file's (RFC 3986 5.1.3)."""
        return self.arazzo.path.resolve().as_uri()

    @property
    def self_uri(self) -> str | None:
        """Arazzo 1.1 `$self`, resolved against the retrieval URI when it is relative
        ("Establishing the Base URI"); None when the document has none."""
        given = self.arazzo.data.get("$self") if isinstance(self.arazzo.data, dict) else None
        return urljoin(self.retrieval_uri, given) if isinstance(given, str) else None

    @property
    def base_uri(self) -> str:
        """What the document's relative references resolve against: `$self`, else the retrieval URI."""
        return self.self_uri or self.retrieval_uri

    def all_documents(self) -> list[LoadedDocument]:
        """This document and every Arazzo document it reaches, each once, this one first."""
        found: list[LoadedDocument] = []
        pending = [self]
        while pending:
            current = pending.pop(0)
            if all(current is not seen for seen in found):
                found.append(current)
                pending.extend(current.documents.values())
        return found


def load_document(path: str | Path, documents: Sequence[str | Path] = ()) -> LoadedDocument:
    """The Arazzo document at `path` and what it names. `documents` are more documents a
    source description may name by identity (Arazzo 1.1, "Identity-Based Referencing"): an
    Arazzo document (or an OpenAPI 3.2 description) is found by its `$self`, as well as by
    where it is."""
    files: dict[Path, LoadedFile] = {}
    return _load_arazzo(Path(path), (), {}, None, _identities(documents, files), files)


def _identities(documents: Sequence[str | Path], files: dict[Path, LoadedFile]) -> dict[str, Path]:
    """Each given document by its identity: its `$self` resolved against its file's URI (RFC
    3986 5.1), and its file's URI. Each is read into `files`, where loading finds it again."""
    found: dict[str, Path] = {}
    for given in documents:
        path = Path(given).resolve()
        data = _read(path, None, files).data
        retrieval = path.as_uri()
        found.setdefault(retrieval, path)
        self_uri = data.get("$self") if isinstance(data, dict) else None
        if isinstance(self_uri, str):
            found.setdefault(urljoin(retrieval, self_uri), path)
    return found


def _load_arazzo(path: Path, chain: tuple[Path, ...], loaded: dict[Path, LoadedDocument], referenced_from: Location | None,
                 identities: dict[str, Path], files: dict[Path, LoadedFile]) -> LoadedDocument:
    """One Arazzo document and what it names. `chain` is the documents whose loading led here
    (a document met again on it is a cycle); `loaded` is every Arazzo document loaded so far,
    by path; `identities` the documents given, by `$self` and by location; `files` every file
    read so far, by path."""
    key = path.resolve()
    if key in chain:
        cycle = " -> ".join(p.name for p in chain[chain.index(key):] + (key,))
        raise LoadError(f"Arazzo documents name each other in a cycle: {cycle}", referenced_from or Location(str(path)))
    if key in loaded:
        return loaded[key]
    arazzo = _read(path, referenced_from, files)
    if not isinstance(arazzo.data, dict):
        raise LoadError("an Arazzo document must be a mapping", arazzo.source_map.locate(""))
    document = LoadedDocument(arazzo, {})
    if document.self_uri is not None:
        identities.setdefault(document.self_uri, key)  # a document read is one more that can be named by identity
    for index, source in enumerate(arazzo.data.get("sourceDescriptions") or []):
        if not isinstance(source, dict):
            continue
        name, url, kind = source.get("name"), source.get("url"), source.get("type", "openapi")
        if not isinstance(name, str) or not isinstance(url, str) or kind not in ("openapi", "arazzo"):
            continue  # validation reports what is wrong with it
        location = arazzo.source_map.locate(f"/sourceDescriptions/{index}/url")
        target = _find_source(document, url, location, identities)
        if kind == "openapi":
            document.sources[name] = _read(target, location, files)
        else:
            document.documents[name] = _load_arazzo(target, chain + (key,), loaded, location, identities, files)
    loaded[key] = document
    return document


def _read(path: Path, referenced_from: Location | None, files: dict[Path, LoadedFile]) -> LoadedFile:
    """The file at `path`, read and parsed once however many times it is named (a document
    given to be found by identity, then named by a source; an OpenAPI description two
    documents use). What is returned carries `path` as given (the top document's may be
    relative), so its locations read as if the file were read there."""
    key = path.resolve()
    if key not in files:
        files[key] = load_yaml(path, referenced_from)
    read = files[key]
    return read if read.path == path else LoadedFile(path, read.data, SourceMap(str(path), read.source_map.positions))


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
            _record_positions(value_node, pointer + format_pointer((str(key_node.value),)), positions)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_positions(item, f"{pointer}/{index}", positions)


def _find_source(document: LoadedDocument, url: str, location: Location, identities: dict[str, Path]) -> Path:
    """Where the document a source description names is. Its `url` resolves against the
    document's base URI (`$self`, else where the document was read: "Establishing the Base
    URI"). An absolute `url` is found by identity first (a given document whose `$self` it is,
    "Identity-Based Referencing"), then by location; a relative one by location first: the
    file it resolves to, then identity. When the base is remote (an http `$self`) and no given
    document has that identity, the relative `url` is read beside the document's own file,
    which stands for its copy there."""
    if document.self_uri is None and not identities:
        return _resolve_local(document.arazzo.path, url, location)  # a document read where it is, alone
    target = urljoin(document.base_uri, url)
    parts = urlsplit(target)
    at_location = Path(url2pathname(parts.path)).resolve() if parts.scheme == "file" else None
    by_identity = identities.get(target)
    if urlsplit(url).scheme:
        found = by_identity or at_location
    else:
        found = at_location if at_location is not None and at_location.exists() else by_identity
    if found is not None:
        return found
    if parts.scheme in ("http", "https") and not urlsplit(url).scheme:
        return _resolve_local(document.arazzo.path, url, location)
    if parts.scheme in ("http", "https"):
        raise LoadError(f"source description {url!r} is remote and no document given (--document) has it as its `$self`; compile from a local copy", location)
    return _resolve_local(document.arazzo.path, url, location)


def _resolve_local(document: Path, url: str, location: Location) -> Path:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        raise LoadError(f"source description {url!r} is remote; compile from a local copy", location)
    if parts.scheme not in ("", "file"):
        raise LoadError(f"source description URL scheme {parts.scheme!r} is not supported", location)
    return (document.parent / parts.path).resolve()
