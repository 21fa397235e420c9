"""The Arazzo version a document declares: 1.0.x and 1.1.x are read, each by its own schema and
runtime-expression grammar; any other version is refused with one problem at `/arazzo` that
names the versions supported."""

from __future__ import annotations

import pytest

from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import SchemaError
from arazzo_sfn.loader import load_document
from arazzo_sfn.validation import document_problems
from tests.validation.support import document, write_document

LIST_PETS = "- stepId: list\n  operationId: listPets\n  outputs:\n    count: $response.body#/count\n"


def problems_of(tmp_path, text: str) -> dict[str, str]:
    found = document_problems(load_document(write_document(tmp_path, text)))
    return {problem.location.pointer: problem.message for problem in found}


@pytest.mark.parametrize("version", ["1.0.0", "1.0.1", "1.1.0", "1.1.3-rc1"])
def test_1_0_and_1_1_documents_are_accepted(tmp_path, version):
    assert problems_of(tmp_path, document(LIST_PETS, version=version)) == {}


@pytest.mark.parametrize(
    ("written", "shown"),
    [("0.9.0", "Arazzo 0.9.0"), ("1.2.0", "Arazzo 1.2.0"), ("2.0.0", "Arazzo 2.0.0"), ("'1.1'", "Arazzo 1.1"), ("1.1", "1.1, not a version string"), ("true", "True, not a version string")],
)
def test_another_version_is_refused_once_naming_the_versions_supported(tmp_path, written, shown):
    # The rest of the document is wrong too (no info): only the version is reported.
    text = document(LIST_PETS, version=written).replace("info: {title: Pets, version: 1.0.0}\n", "")
    found = document_problems(load_document(write_document(tmp_path, text)))
    assert [(type(p), p.location.pointer, p.location.line) for p in found] == [(SchemaError, "/arazzo", 1)]
    assert found[0].message == f"arazzo is {shown}: this compiler reads Arazzo 1.0.x and 1.1.x"


def test_a_document_without_a_version_is_refused_at_its_top(tmp_path):
    text = document(LIST_PETS).replace("arazzo: 1.0.1\n", "")
    assert problems_of(tmp_path, text) == {"": "the document has no 'arazzo' field: it names the Arazzo version, 1.0.x and 1.1.x are supported"}


def test_each_version_is_read_by_its_own_schema(tmp_path):
    """`in: querystring` is 1.1's; a 1.0 document may not have it."""
    steps = "- stepId: list\n  operationId: listPets\n  parameters:\n  - {name: q, in: querystring, value: 'a=1'}\n"
    assert list(problems_of(tmp_path, document(steps, version="1.0.1"))) == ["/workflows/0/steps/0/parameters/0/in"]
    assert problems_of(tmp_path, document(steps, version="1.1.0")) == {}


def test_1_1_only_expressions_are_refused_in_a_1_0_document(tmp_path):
    steps = "- stepId: list\n  operationId: listPets\n  parameters:\n  - {name: origin, in: header, value: $self}\n"
    found = problems_of(tmp_path, document(steps, version="1.0.1"))
    assert found == {"/workflows/0/steps/0/parameters/0/value": "'$self' is not a runtime expression: $self is Arazzo 1.1; this document is 1.0"}
    assert problems_of(tmp_path, document(steps, version="1.1.0")) == {}


def test_1_1_grammar_reads_the_conditions_of_a_1_1_document(tmp_path):
    steps = "- stepId: list\n  operationId: listPets\n  successCriteria:\n  - condition: $self != ''\n"
    assert list(problems_of(tmp_path, document(steps, version="1.0.1"))) == ["/workflows/0/steps/0/successCriteria/0/condition"]
    assert problems_of(tmp_path, document(steps, version="1.1.0")) == {}


def test_a_1_1_document_without_1_1_constructs_compiles_as_its_1_0_twin(tmp_path):
    one = tmp_path / "one"
    other = tmp_path / "other"
    one.mkdir()
    other.mkdir()
    assert compile_document(write_document(one, document(LIST_PETS, version="1.1.0"))) == compile_document(write_document(other, document(LIST_PETS)))
