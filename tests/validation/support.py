"""What the validation tests share: documents written to a directory, compiled as a user
compiles them, and the answer read as valid, invalid or not supported."""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from arazzo_sfn.compiler import compile_all
from arazzo_sfn.errors import ArazzoError, ArazzoWarning, ProblemList, UnsupportedConstruct

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# The smallest OpenAPI description the rule tests need.
OPENAPI = """\
openapi: 3.1.0
info: {title: Pets, version: 1.0.0}
paths:
  /pets:
    get:
      operationId: listPets
      responses: {'200': {description: the pets}}
  /pets/{petId}:
    get:
      operationId: getPet
      parameters:
      - {name: petId, in: path, required: true, schema: {type: string}}
      responses: {'200': {description: the pet}}
"""


@dataclass
class Answer:
    """What compiling a document answered: valid, invalid or unsupported, and the problems."""

    verdict: str
    problems: list[ArazzoError] = field(default_factory=list)

    @property
    def pointers(self) -> list[str]:
        return [problem.location.pointer if problem.location else "" for problem in self.problems]

    def located_at(self, expected: list[str]) -> bool:
        """Some problem is at one of `expected` or inside it ('/' is the whole document)."""
        return any(_within(found, at) for found in self.pointers for at in expected)

    def __str__(self) -> str:
        return self.verdict + "".join(f"\n  {type(p).__name__}: {p}" for p in self.problems)


def _within(found: str, at: str) -> bool:
    if at == "/":
        return found in ("", "/")
    return found == at or found.startswith(at + "/")


def compile_answer(path: Path) -> Answer:
    """Compile every workflow of the document, as `arazzo-sfn compile --all` does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArazzoWarning)  # a step no route reaches is valid
        try:
            compile_all(path)
        except ProblemList as error:
            return Answer("invalid", list(error.problems))
        except UnsupportedConstruct as error:
            return Answer("unsupported", [error])
        except ArazzoError as error:
            return Answer("invalid", [error])
    return Answer("valid")


def write_document(directory: Path, text: str) -> Path:
    """An Arazzo document (dedented) beside the OpenAPI description `pets.yaml`."""
    (directory / "pets.yaml").write_text(OPENAPI, encoding="utf-8")
    path = directory / "doc.arazzo.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def document(steps: str, workflow: str = "", top: str = "", version: str = "1.0.1") -> str:
    """A document with one workflow `pets` whose steps are `steps` (YAML items from column 0);
    `workflow` adds keys to the workflow, `top` adds top-level keys or more workflows;
    `version` is what its `arazzo` field declares."""
    return (
        f"arazzo: {version}\n"
        "info: {title: Pets, version: 1.0.0}\n"
        "sourceDescriptions:\n"
        "- {name: pets, url: pets.yaml, type: openapi}\n"
        "workflows:\n"
        "- workflowId: pets\n"
        + textwrap.indent(textwrap.dedent(workflow), "  ")
        + "  steps:\n"
        + textwrap.indent(textwrap.dedent(steps), "  ")
        + textwrap.dedent(top)
    )
