"""Arazzo 1.1 `$self` and identity-based references, compiled and run in moto's Step
Functions engine against a scripted server: relative source URLs resolve against the
document's `$self` (itself resolved against where the document is read when relative), a
source description is found by the `$self` of a document given to the compiler, and the
expression `$self` is the document's URI. The cases are Appendix B's. Each test cites the
clause of the Arazzo 1.1.0 text it checks. Documents: tests/fixtures/documents/arazzo-1.1/sources/."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from arazzo_sfn import loader
from arazzo_sfn.cli import main
from arazzo_sfn.compiler import compile_bundle, compile_document
from arazzo_sfn.errors import LoadError, UnsupportedConstruct
from arazzo_sfn.loader import load_document
from arazzo_sfn.local_run import run_workflow
from arazzo_sfn.testing import Reply, ScriptedServer
from arazzo_sfn.validation import document_problems

DOCUMENTS = Path(__file__).resolve().parents[1] / "fixtures" / "documents" / "arazzo-1.1"
SOURCES = DOCUMENTS / "sources"
PURCHASE = SOURCES / "workflows" / "purchase.arazzo.yaml"
PETSTORE_COPY = SOURCES / "mirror" / "petstore-copy.openapi.yaml"
SELF = "https://api.example.com/workflows/purchase.arazzo.yaml"


def run(bundle: dict[str, dict], routes: dict, inputs: dict | None = None):
    root = next(iter(bundle))
    children = {key: asl for key, asl in bundle.items() if key != root}
    with ScriptedServer(routes) as server:
        result = run_workflow(bundle[root], inputs or {}, server.url, children=children, retry_sleep=lambda _: None, timeout_seconds=60)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return result, server.calls


def test_a_relative_source_url_resolves_against_self_and_is_found_by_identity():
    """Appendix B, Base URI Within Content (Using `$self`): `../specs/petstore.yaml` resolves
    against `$self` to https://api.example.com/specs/petstore.yaml "regardless of the retrieval
    URI"; Identity-Based Referencing: the description given to the compiler whose `$self` is
    that URI is the one used, wherever its file is. Runtime Expressions: `$self` "References
    the canonical URI of the current Arazzo Description", whole and embedded."""
    _, calls = run(compile_bundle(PURCHASE, documents=[PETSTORE_COPY]), {"POST /purchases": [Reply(201, {})]})
    (call,) = calls
    assert call.line == "POST /purchases"
    assert call.headers["x-origin"] == SELF
    assert call.body == {"origin": f"bought by {SELF}", "spec": "../specs/petstore.yaml"}


def test_without_the_document_that_has_that_identity_the_source_is_looked_for_beside_the_file():
    """Identity-Based Referencing: "implementations can scan for `$self` values to locate
    documents from a provided collection without making network requests"; none is given
    and nothing is beside the document: the source cannot be read, an error at its url."""
    with pytest.raises(LoadError) as caught:
        compile_document(PURCHASE)
    assert caught.value.location is not None and caught.value.location.pointer == "/sourceDescriptions/0/url"


def test_a_relative_self_resolves_against_where_the_document_is_read_then_sources_against_it():
    """Appendix B, Resolving Relative `$self`: `workflows/purchase.arazzo.yaml` read from
    .../v2/api-description.arazzo.yaml is .../v2/workflows/purchase.arazzo.yaml, and
    `../specs/petstore.yaml` resolves against that: .../v2/specs/petstore.yaml."""
    document = SOURCES / "v2" / "api-description.arazzo.yaml"
    assert load_document(document).sources["petstore"].path == (SOURCES / "v2" / "specs" / "petstore.yaml").resolve()
    _, calls = run(compile_bundle(document), {"POST /purchases": [Reply(201, {})]})
    assert calls[0].headers["x-origin"] == (SOURCES / "v2" / "workflows" / "purchase.arazzo.yaml").resolve().as_uri()


def test_without_self_sources_resolve_against_the_retrieval_uri():
    """Appendix B, Base URI From the Retrieval URI (No `$self`): the relative URL resolves
    against the URI the document was read from."""
    document = load_document(DOCUMENTS / "without-self.arazzo.yaml")
    assert document.self_uri is None and document.base_uri == (DOCUMENTS / "without-self.arazzo.yaml").resolve().as_uri()
    assert document.sources["pets"].path == (DOCUMENTS / "pets.openapi.yaml").resolve()


def test_an_arazzo_source_with_an_absolute_url_is_found_by_the_self_of_a_document_given():
    """Identity-Based Referencing: "When a Source Description Object's `url` field is an
    absolute URI, the implementation MUST resolve it to an Arazzo Description by identity
    (matching the `$self` value) rather than by location alone"; Appendix B, Identity vs
    Location: the document is "Retrieved from" elsewhere. Its workflow runs as a child
    execution; `$sourceDescriptions.adoptions.url` is the url as written (Source Description
    Expression Resolution)."""
    copy = SOURCES / "elsewhere" / "adopt-copy.arazzo.yaml"
    bundle = compile_bundle(SOURCES / "caller.arazzo.yaml", documents=[copy])
    assert list(bundle) == ["adopt-one", "adopt"]
    result, calls = run(bundle, {"POST /adoptions": [Reply(201, {"id": "a-1"})]}, {"petId": 7})
    assert [(call.line, call.body) for call in calls] == [("POST /adoptions", {"petId": 7})]
    assert result.output == {"adoption": "a-1", "called": "https://workflows.example.com/canonical/adopt.arazzo.yaml"}


def test_the_cli_takes_the_documents_a_source_may_name_by_identity(tmp_path, capsys):
    """Identity-Based Referencing, from the command line: `--document PATH`, repeatable."""
    out = tmp_path / "purchase.asl.json"
    assert main(["compile", str(PURCHASE), "--document", str(PETSTORE_COPY), "-o", str(out)]) == 0
    assert SELF in out.read_text(encoding="utf-8")
    assert main(["compile", str(PURCHASE), "-o", str(out)]) == 2
    assert "/sourceDescriptions/0/url" in capsys.readouterr().err


@pytest.mark.parametrize(("document", "given"), [(PURCHASE, PETSTORE_COPY), (SOURCES / "caller.arazzo.yaml", SOURCES / "elsewhere" / "adopt-copy.arazzo.yaml")],
                         ids=["openapi", "arazzo"])
def test_a_document_given_and_named_by_a_source_is_read_once(document, given, tmp_path, monkeypatch):
    """A document given with `--document` is read for its `$self`; the source that names it
    uses what was read rather than reading and parsing the file again."""
    reads: Counter[Path] = Counter()
    read = loader.load_yaml

    def counted(path, referenced_from=None):
        reads[path.resolve()] += 1
        return read(path, referenced_from)

    monkeypatch.setattr(loader, "load_yaml", counted)
    assert main(["compile", str(document), "--document", str(given), "-o", str(tmp_path / "out.asl.json")]) == 0
    assert reads[given.resolve()] == 1
    assert reads[document.resolve()] == 1


def test_a_self_with_a_fragment_is_a_validation_error_where_it_is():
    """Arazzo Specification Object, `$self`: "The `$self` URI MUST NOT contain a fragment identifier"."""
    (problem,) = document_problems(load_document(SOURCES / "fragment.arazzo.yaml"))
    assert "must not contain a fragment" in problem.message
    assert problem.location is not None and problem.location.pointer == "/$self"


def test_the_self_expression_in_a_document_without_self_is_refused_where_it_is():
    """Runtime Expressions: `$self` is the URI "defined by the `$self` field"; a document
    without one gives it no value (its file's location is no identity to compile in)."""
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(DOCUMENTS / "without-self.arazzo.yaml", "self-expression")
    assert "has no `$self` field" in caught.value.message
    assert caught.value.location is not None and caught.value.location.pointer == "/workflows/0/steps/0/parameters/0"


def test_an_arazzo_source_with_a_relative_url_is_found_by_location_then_by_identity():
    """Relative References in Arazzo Description URIs: the relative `url` resolves against
    `$self` (Establishing the Base URI) to a URI no file is at; Identity-Based Referencing:
    "implementations MUST examine potential target Arazzo Descriptions ... to check for
    matching `$self` values": the given document whose `$self` it is."""
    copy = SOURCES / "elsewhere" / "adopt-copy.arazzo.yaml"
    document = load_document(SOURCES / "relative-caller.arazzo.yaml", [copy])
    assert document.documents["adoptions"].arazzo.path == copy.resolve()
    result, calls = run(compile_bundle(SOURCES / "relative-caller.arazzo.yaml", documents=[copy]), {"POST /adoptions": [Reply(201, {"id": "a-9"})]})
    assert [(call.line, call.body) for call in calls] == [("POST /adoptions", {"petId": 9})]
    assert result.output == {"adoption": "a-9"}
