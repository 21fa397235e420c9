"""Arazzo 1.1 constructs that validate but that the compiler does not lower are refused as
*not supported*, located at the node that holds them and naming the construct and "Arazzo 1.1":
never compiled as something else, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.loader import load_document
from arazzo_sfn.validation import document_problems

DOCUMENTS = Path(__file__).parents[1] / "fixtures" / "documents" / "arazzo-1.1"


@pytest.mark.parametrize(("name", "at", "construct"), [
    ("asyncapi.arazzo.yaml", "/sourceDescriptions/1/type", "an AsyncAPI source description"),
])
def test_a_document_level_1_1_construct_is_refused_where_it_is(name, at, construct):
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(DOCUMENTS / name)
    assert caught.value.message.startswith(construct) and "(Arazzo 1.1) is not supported yet" in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == at


@pytest.mark.parametrize("name", ["without-self.arazzo.yaml", "self.arazzo.yaml", "asyncapi.arazzo.yaml"])
def test_the_documents_are_valid_arazzo_1_1(name):
    """Refused as not supported, never as invalid."""
    assert document_problems(load_document(DOCUMENTS / name)) == []


def test_message_read_by_the_grammar_in_a_condition_is_refused_where_it_is():
    """`$message` (AsyncAPI) is found by the expression grammar's typed tree: here an operand
    of a simple condition, beside `$statusCode`."""
    document = DOCUMENTS / "message.arazzo.yaml"
    assert document_problems(load_document(document)) == []
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(document)
    assert caught.value.message.startswith("the runtime expression `$message`")
    assert caught.value.location is not None and caught.value.location.pointer == "/workflows/0/steps/0/successCriteria/0/condition"


def test_a_1_1_condition_is_read_by_the_1_1_grammar_in_the_lowering_too():
    """`$self` in a simple condition is valid 1.1: it is refused as not supported where it is,
    never read as an expression of 1.0 (which has no `$self`)."""
    document = DOCUMENTS / "self-in-condition.arazzo.yaml"
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(document)
    assert "$self" in caught.value.message and "1.0" not in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == "/workflows/0/steps/0/successCriteria/0"
