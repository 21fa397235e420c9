"""What every validation module reads of the document: its parts with their JSON pointers,
references resolved, and problems located by pointer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from arazzo_runtime.expressions import format_pointer
from arazzo_sfn.errors import ArazzoError
from arazzo_sfn.loader import LoadedDocument, SourceMap

COMPONENT_PREFIX = "$components."
# The versions this compiler reads (major.minor); what each document's `arazzo` field takes.
VERSION_PATTERN = re.compile(r"(?P<minor>1\.[01])\.\d+(-.+)?")


def document_version(data: Any) -> str | None:
    """The version (major.minor) a document's `arazzo` field declares, when it is one this
    compiler reads (1.0.x or 1.1.x, as each schema's `arazzo` pattern takes it); else None."""
    declared = data.get("arazzo") if isinstance(data, dict) else None
    found = VERSION_PATTERN.fullmatch(declared) if isinstance(declared, str) else None
    return found.group("minor") if found else None


def pointer(base: str, *parts: str | int) -> str:
    """`base` followed by `parts`, each escaped as an RFC 6901 reference token."""
    return base + format_pointer(str(part) for part in parts)


@dataclass(frozen=True)
class Placed:
    """A node of the document and where it is."""

    at: str  # JSON pointer
    value: Any


@dataclass(frozen=True)
class ActionUse:
    """A success or failure action as one step applies it: the step's own, or one of its
    workflow's, a `$components` reference resolved to the component it names."""

    at: str  # where the action object is written (the component, for a reference)
    action: dict[str, Any]
    kind: str  # success | failure
    workflow_index: int
    step_index: int


@dataclass
class Document:
    """The Arazzo document under validation."""

    loaded: LoadedDocument
    data: dict[str, Any] = field(init=False)
    source_map: SourceMap = field(init=False)

    # The Arazzo version the document declares ("1.0" or "1.1"), which decides its schema and
    # the grammar its runtime expressions are read by; None: a version this compiler does not
    # read (the schema stage reports it, and nothing else runs).
    version: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.data = self.loaded.arazzo.data
        self.source_map = self.loaded.arazzo.source_map
        self.version = document_version(self.data)

    @property
    def grammar(self) -> str:
        """The version whose runtime-expression grammar reads this document's expressions: the
        one it declares (the rules that read expressions run only once its version is known).
        A 1.1-only form (`$self`, `$message`, ...) is an error in a 1.0 document."""
        return self.version or "1.0"

    def problem(self, kind: type[ArazzoError], message: str, at: str) -> ArazzoError:
        return kind(message, self.source_map.locate(at))

    # --- the parts ---------------------------------------------------------------------------

    def workflows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, workflow in enumerate(self.data.get("workflows") or []):
            if isinstance(workflow, dict):
                yield index, workflow

    def steps(self, workflow: dict[str, Any]) -> list[dict[str, Any]]:
        return [step for step in workflow.get("steps") or [] if isinstance(step, dict)]

    def workflow_ids(self) -> list[Any]:
        return [workflow.get("workflowId") for _, workflow in self.workflows()]

    def source_types(self) -> dict[str, str]:
        """Source description name -> its type (openapi unless it says otherwise)."""
        return {
            source["name"]: source.get("type", "openapi")
            for source in self.data.get("sourceDescriptions") or []
            if isinstance(source, dict) and isinstance(source.get("name"), str)
        }

    def component(self, reference: Any, kind: str) -> dict[str, Any] | None:
        """The object `$components.<kind>.<name>` names, or None."""
        prefix = f"{COMPONENT_PREFIX}{kind}."
        if not isinstance(reference, str) or not reference.startswith(prefix):
            return None
        found = ((self.data.get("components") or {}).get(kind) or {}).get(reference[len(prefix) :])
        return found if isinstance(found, dict) else None

    def component_at(self, reference: str, kind: str) -> str:
        return pointer("/components", kind, reference[len(f"{COMPONENT_PREFIX}{kind}.") :])

    def parameters(self, owner: dict[str, Any], at: str) -> Iterator[tuple[str, dict[str, Any] | None, dict[str, Any]]]:
        """(where the entry is, the component a reference names or None, the entry) for each
        parameter of a step or workflow."""
        for index, entry in enumerate(owner.get("parameters") or []):
            if not isinstance(entry, dict):
                continue
            target = self.component(entry["reference"], "parameters") if "reference" in entry else None
            yield pointer(at, "parameters", index), target, entry

    def input_schema(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """The workflow's inputs schema, `$ref: '#/components/inputs/<name>'` followed (for the
        schema and its properties); {} where a reference leads nowhere."""
        schema = self._input_ref(workflow.get("inputs") or {})
        properties = schema.get("properties")
        if isinstance(properties, dict):
            schema = {**schema, "properties": {name: self._input_ref(value) for name, value in properties.items()}}
        return schema

    def input_ref_target(self, reference: Any) -> dict[str, Any] | None:
        prefix = "#/components/inputs/"
        if not isinstance(reference, str) or not reference.startswith(prefix):
            return None
        found = ((self.data.get("components") or {}).get("inputs") or {}).get(reference[len(prefix) :])
        return found if isinstance(found, dict) else None

    def _input_ref(self, schema: Any) -> dict[str, Any]:
        if not isinstance(schema, dict):
            return {}
        if "$ref" not in schema:
            return schema
        return self.input_ref_target(schema["$ref"]) or {}

    def actions(self) -> Iterator[ActionUse]:
        """Every action each step applies: its own first, then its workflow's, in order."""
        for w_index, workflow in self.workflows():
            base = f"/workflows/{w_index}"
            for s_index, step in enumerate(workflow.get("steps") or []):
                if not isinstance(step, dict):
                    continue
                for kind, own, shared, component_kind in (
                    ("success", "onSuccess", "successActions", "successActions"),
                    ("failure", "onFailure", "failureActions", "failureActions"),
                ):
                    written = [(pointer(base, "steps", s_index, own, i), a) for i, a in enumerate(step.get(own) or [])]
                    written += [(pointer(base, shared, i), a) for i, a in enumerate(workflow.get(shared) or [])]
                    for at, action in written:
                        if not isinstance(action, dict):
                            continue
                        if "reference" in action:
                            target = self.component(action["reference"], component_kind)
                            if target is None:
                                continue
                            at, action = self.component_at(action["reference"], component_kind), target
                        yield ActionUse(at, action, kind, w_index, s_index)
