"""`make sam-build`'s import check, on a build laid out as `sam build` lays it out: each
function's folder under its logical id, each layer's files under <layer>/python."""

from __future__ import annotations

import importlib.metadata as metadata
import shutil
import sys
from pathlib import Path

from airbyte_resync import built
from airbyte_resync.bundle import layer_distributions
from airbyte_resync.template import load_template

ROOT = Path(__file__).resolve().parents[2]
# What Lambda's python3.12 runtime holds besides the standard library, with AWS's Powertools layer.
RUNTIME_REQUIREMENTS = "boto3\naws-lambda-powertools\n"


def install(distributions: list[str], target: Path) -> None:
    """Lay the installed distributions' top-level modules into `target`, as pip would install
    them there (linked, not copied: nothing is downloaded)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in distributions:
        distribution = metadata.distribution(name)
        for top in {Path(str(file)).parts[0] for file in distribution.files or []}:
            source = Path(str(distribution.locate_file(top)))
            if top.endswith((".dist-info", ".pth")) or top in ("..", "__pycache__") or not source.exists() or (target / top).exists():
                continue
            (target / top).symlink_to(source)


def fake_build(directory: Path) -> Path:
    """What `sam build` makes: each function's folder, each layer's files and requirements under <layer>/python."""
    template = load_template(ROOT / "template.yaml")
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            shutil.copytree(ROOT / resource["Properties"]["CodeUri"], directory / name)
    for layer, folder in zip(built.LAYERS, ("arazzo_runtime", "airbyte_client"), strict=True):
        shutil.copytree(ROOT / "layers" / folder, directory / layer / "python")
        install(layer_distributions(ROOT / "layers" / folder / "requirements.txt"), directory / layer / "python")
    return directory


def lambda_python(directory: Path) -> str:
    """An interpreter that stands for Lambda's: the standard library, boto3 and Powertools, and
    nothing else of this environment (`-S`: no site-packages), so a module a bundle lacks fails."""
    requirements = directory / "runtime-requirements.txt"
    requirements.write_text(RUNTIME_REQUIREMENTS, encoding="utf-8")
    runtime = directory / "runtime"
    install(layer_distributions(requirements), runtime)
    wrapper = directory / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="$PYTHONPATH:{runtime}" exec "{sys.executable}" -S "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


def test_every_built_function_imports_with_its_layers(tmp_path, capsys):
    assert built.main([str(fake_build(tmp_path / "build")), lambda_python(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.endswith(": imports") for line in lines)
    assert any(line.startswith("PollJobFunction") for line in lines)


def test_a_function_that_imports_what_its_bundle_lacks_fails_the_check(tmp_path, capsys):
    build = fake_build(tmp_path / "build")
    # Installed here (the development environment has it), but in no bundle and not in Lambda's runtime.
    (build / "PollJobFunction" / "app.py").write_text("import yaml\n")
    assert built.main([str(build), lambda_python(tmp_path)]) == 1
    [failed] = [line for line in capsys.readouterr().out.splitlines() if "FAILS" in line]
    assert failed.startswith("PollJobFunction: FAILS:") and "yaml" in failed
