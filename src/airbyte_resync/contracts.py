"""The input contracts as files: the JSON Schema of the execution input and of the EventBridge
event that requests a run, generated from the workflow's inputs (the single source of truth)
and committed. `python -m airbyte_resync.contracts` writes them; `--check` fails when one is
stale. The start-from-event function carries its own copy of the input schema, to refuse a
malformed request before it starts anything."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from airbyte_resync.files import ROOT, WORKFLOW

WORKFLOW_ID = "reset-and-resync"
DETAIL_TYPE = "Airbyte Connection Reset Requested"
INPUT_SCHEMA_ID = "execution-input.schema.json"
FILES = {
    ROOT / "schemas" / "execution-input.schema.json": "input",
    ROOT / "schemas" / "reset-requested-event.schema.json": "event",
    ROOT / "functions" / "start_from_event" / "execution-input.schema.json": "input",
}


def execution_input_schema(workflow: Path = WORKFLOW) -> dict[str, Any]:
    """The workflow's inputs, as the schema of the state machine's input."""
    document = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    inputs = next(item for item in document["workflows"] if item["workflowId"] == WORKFLOW_ID)["inputs"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": INPUT_SCHEMA_ID,
        "title": "Input of the reset-and-resync state machine",
        "description": f"Generated from the inputs of workflow {WORKFLOW_ID} in {workflow.relative_to(ROOT).as_posix()}; do not edit.",
        **inputs,
    }


def event_schema(workflow: Path = WORKFLOW) -> dict[str, Any]:
    """The EventBridge event that requests a run: its detail is the execution input, unchanged.
    The input's schema is bundled under `$defs`, so the file stands alone: a validator loads it
    without being told where the other file is."""
    bundled = {key: value for key, value in execution_input_schema(workflow).items() if key not in ("$schema", "$id")}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "reset-requested-event.schema.json",
        "title": f"EventBridge event '{DETAIL_TYPE}'",
        "description": "Put on the default bus; the rule starts one execution per event, named after its id. Generated; do not edit.",
        "type": "object",
        "required": ["detail-type", "detail"],
        "properties": {
            "source": {"type": "string", "description": "Any source: the rule matches on detail-type."},
            "detail-type": {"const": DETAIL_TYPE},
            "detail": {"$ref": "#/$defs/executionInput"},
        },
        "$defs": {"executionInput": bundled},
    }


def render(kind: str) -> str:
    schema = execution_input_schema() if kind == "input" else event_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airbyte_resync.contracts", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed schema differs from the workflow's inputs")
    args = parser.parse_args(argv)
    stale = []
    for path, kind in FILES.items():
        text = render(kind)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append((path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).as_posix())
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"contracts: stale: {', '.join(stale)}: run `make compile`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
