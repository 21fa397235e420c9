"""Arazzo 1.1 constructs that validate but that the compiler does not lower yet are refused as
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
UNSUPPORTED = DOCUMENTS / "unsupported.arazzo.yaml"


@pytest.mark.parametrize(("workflow_id", "at", "construct"), [
    ("expression-type-object", "/workflows/4/steps/0/successCriteria/0/type", "a criterion's Expression Type Object"),
    ("querystring", "/workflows/5/steps/0/parameters/0", "a parameter `in: querystring`"),
    ("self-expression", "/workflows/6/steps/0/parameters/0/value", "the runtime expression `$self`"),
])
def test_a_1_1_construct_not_lowered_yet_is_refused_where_it_is(workflow_id, at, construct):
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(UNSUPPORTED, workflow_id)
    error = caught.value
    assert error.message.startswith(construct) and error.message.endswith("(Arazzo 1.1) is not supported yet")
    assert error.location is not None and (error.location.file, error.location.pointer) == (str(UNSUPPORTED), at)
    assert error.location.line is not None


@pytest.mark.parametrize(("name", "at", "construct"), [
    ("self.arazzo.yaml", "/$self", "the document's `$self`"),
    ("asyncapi.arazzo.yaml", "/sourceDescriptions/1/type", "an AsyncAPI source description"),
])
def test_a_document_level_1_1_construct_is_refused_where_it_is(name, at, construct):
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(DOCUMENTS / name)
    assert caught.value.message.startswith(construct) and "(Arazzo 1.1) is not supported yet" in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == at


@pytest.mark.parametrize("name", ["unsupported.arazzo.yaml", "self.arazzo.yaml", "asyncapi.arazzo.yaml"])
def test_the_documents_are_valid_arazzo_1_1(name):
    """Refused as not supported, never as invalid."""
    assert document_problems(load_document(DOCUMENTS / name)) == []
