"""`make sam-build`'s import check, on a build laid out as `sam build` lays it out: each
function's folder under its logical id, each layer's files under <layer>/python."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from airbyte_resync import built
from airbyte_resync.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def fake_build(directory: Path) -> Path:
    template = load_template(ROOT / "template.yaml")
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            shutil.copytree(ROOT / resource["Properties"]["CodeUri"], directory / name)
    for layer, folder in zip(built.LAYERS, ("arazzo_runtime", "airbyte_client"), strict=False):
        shutil.copytree(ROOT / "layers" / folder, directory / layer / "python")
    return directory


def test_every_built_function_imports_with_its_layers(tmp_path, capsys):
    # This interpreter stands for the Lambda runtime's (it has boto3 and the layers' requirements).
    assert built.main([str(fake_build(tmp_path)), sys.executable]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.endswith(": imports") for line in lines)
    assert any(line.startswith("PollJobFunction") for line in lines)


def test_a_function_that_imports_what_its_bundle_lacks_fails_the_check(tmp_path, capsys):
    build = fake_build(tmp_path)
    (build / "PollJobFunction" / "app.py").write_text("import module_no_bundle_has\n")
    assert built.main([str(build), sys.executable]) == 1
    [failed] = [line for line in capsys.readouterr().out.splitlines() if "FAILS" in line]
    assert failed.startswith("PollJobFunction: FAILS:") and "module_no_bundle_has" in failed
