"""Stage 2, validate: the whole document is checked before any model is built, and every
problem is reported at once, each at the node it concerns (file, line, column, JSON pointer).

- schema: the official Arazzo JSON Schema of the document's version, 1.0 or 1.1 (their known
  defects mended; any other version is refused), and each `x-` extension's value against its
  own schema;
- semantics: ids, references, operations, parameters, loops without a way out;
- expressions: every runtime expression by the grammar of the document's version, and what
  it names;
- extensions: where each `x-` extension belongs, and what its expressions may read.

The rules after the schemas read the document as the schemas guarantee it, so they run
once the schemas hold."""

from __future__ import annotations

from arazzo_sfn.errors import ArazzoError, ProblemList
from arazzo_sfn.loader import LoadedDocument
from arazzo_sfn.validation.document import Document
from arazzo_sfn.validation.expressions import expression_problems
from arazzo_sfn.validation.extensions import extension_problems, extension_schema, extension_schema_problems
from arazzo_sfn.validation.schema import arazzo_schema, schema_problems
from arazzo_sfn.validation.semantics import semantic_problems

__all__ = ["arazzo_schema", "document_problems", "extension_schema", "validate_document"]


def document_problems(loaded: LoadedDocument) -> list[ArazzoError]:
    """Every problem of the document, in document order; [] when it is valid."""
    document = Document(loaded)
    problems = list(schema_problems(document)) + list(extension_schema_problems(document))
    if not problems:
        problems = list(semantic_problems(document)) + list(expression_problems(document)) + list(extension_problems(document))
    return sorted(problems, key=_order)


def validate_document(loaded: LoadedDocument) -> None:
    problems = document_problems(loaded)
    if problems:
        raise ProblemList(problems)


def _order(problem: ArazzoError) -> tuple[str, int, int]:
    location = problem.location
    return (location.file, location.line or 0, location.column or 0) if location else ("", 0, 0)
