"""How long arazzo-sfn takes on large documents: 100 workflows of 10 steps (1,000 steps),
and one workflow of 1,000 steps. Prints figures; asserts nothing about speed."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from arazzo_sfn.compiler import compile_all
from arazzo_sfn.emit import emit_json
from arazzo_sfn.loader import load_document
from arazzo_sfn.validation import validate_document

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Bench", "version": "1.0.0"},
    "paths": {
        "/items": {"post": {"operationId": "createItem", "responses": {"200": {"description": "ok"}}}},
        "/items/{id}": {"get": {"operationId": "getItem", "parameters": [{"name": "id", "in": "path", "required": True}], "responses": {"200": {"description": "ok"}}}},
    },
}


def step(index: int, steps_per_workflow: int) -> dict:
    """A mix of what real workflows do: create, poll in a loop, branch, retry on failure."""
    if index % 2 == 0:
        return {
            "stepId": f"create{index}",
            "operationId": "createItem",
            "requestBody": {"contentType": "application/json", "payload": {"name": "item-{$inputs.name}", "n": index}},
            "successCriteria": [{"condition": "$statusCode == 200"}],
            "onFailure": [{"name": "again", "type": "retry", "retryAfter": 1, "retryLimit": 3, "criteria": [{"condition": "$statusCode == 503"}]}],
            "outputs": {"id": "$response.body#/id"},
        }
    actions = [
        {"name": "wait", "type": "goto", "stepId": f"poll{index}", "criteria": [{"context": "$response.body", "condition": "$.status == 'running'", "type": "jsonpath"}]},
        {"name": "failed", "type": "end", "x-fail": {"error": "ItemFailed"}, "criteria": [{"condition": "$response.body#/status == 'failed'"}]},
    ]
    return {
        "stepId": f"poll{index}",
        "operationId": "getItem",
        "parameters": [{"name": "id", "in": "path", "value": f"$steps.create{index - 1}.outputs.id"}],
        "successCriteria": [{"condition": "$statusCode == 200"}],
        "onSuccess": actions,
    }


def document(workflows: int, steps_per_workflow: int) -> dict:
    return {
        "arazzo": "1.0.1",
        "info": {"title": "Bench", "version": "1.0.0"},
        "sourceDescriptions": [{"name": "api", "url": "api.yaml", "type": "openapi"}],
        "workflows": [
            {
                "workflowId": f"w{w}",
                "inputs": {"type": "object", "properties": {"name": {"type": "string", "default": "x"}}},
                "steps": [step(i, steps_per_workflow) for i in range(steps_per_workflow)],
                "outputs": {"last": f"$steps.create{steps_per_workflow - 2}.outputs.id"},
            }
            for w in range(workflows)
        ],
    }


def measure(label: str, workflows: int, steps_per_workflow: int, repeats: int = 3) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        (directory / "api.yaml").write_text(yaml.safe_dump(OPENAPI), encoding="utf-8")
        path = directory / "bench.arazzo.yaml"
        path.write_text(yaml.safe_dump(document(workflows, steps_per_workflow), sort_keys=False), encoding="utf-8")
        size = path.stat().st_size
        load_validate, whole, states = [], [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            loaded = load_document(path)
            validate_document(loaded)
            load_validate.append(time.perf_counter() - started)
            started = time.perf_counter()
            compiled = compile_all(path)  # load, validate, lower, verify every workflow
            states = sum(len(asl["States"]) for asl in compiled.values())
            for asl in compiled.values():
                emit_json(asl)
            whole.append(time.perf_counter() - started)
    total_steps = workflows * steps_per_workflow
    print(
        f"{label:<28} {workflows:>4} workflows {total_steps:>5} steps {size / 1024:>7.0f} KiB  "
        f"load+validate {statistics.median(load_validate):6.2f} s  "
        f"compile every workflow {statistics.median(whole):6.2f} s  "
        f"{states:>6} states"
    )


def main() -> int:
    print(f"arazzo-sfn compile time (median of 3), Python {sys.version.split()[0]}")
    measure("100 workflows x 10 steps", 100, 10)
    measure("1 workflow x 1,000 steps", 1, 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
