"""The template's security scan (checkov): clean, and every finding it skips is justified.

Skips live in two places: on a resource (Metadata: checkov: skip, with a comment) for a
finding about that resource, and in .checkov.yaml for checks that fail identically for
every function or log group. Both must stay honest: a skip without a reason, or a skip
that no longer matches a finding, fails here. The scanner runs from its own environment
(.venv-scan, installed by `make test`), because its pins clash with the project's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.template.test_template import PARAMETER_SETS, load_template, translate

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".checkov.yaml"
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv-scan" / "bin" / "checkov"))
MIN_REASON_WORDS = 8


def scan(template: Path, config: Path | None) -> dict[str, Any]:
    """checkov's JSON report of one CloudFormation template."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: `make test` installs it (make scan-install)")
    command = [str(CHECKOV), "--framework", "cloudformation", "-o", "json", "-f", str(template)]
    # Without --config-file, checkov would still read a .checkov.yaml in its working directory.
    command += ["--config-file", str(config)] if config else []
    completed = subprocess.run(
        command,
        cwd=template.parent,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # no download of the platform's mappings
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.stdout.strip(), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    assert report["summary"]["resource_count"] > 0, report["summary"]
    return report


def failed(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(check["check_id"], check["resource"]) for check in report["results"]["failed_checks"]}


def config_skips() -> dict[str, str]:
    """.checkov.yaml's skipped check ids, each with the reason written on its line."""
    listed = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["skip-check"]
    reasons = dict(re.findall(r"^\s*-\s*(CKV_\w+)\s*#\s*(.*)$", CONFIG.read_text(encoding="utf-8"), re.MULTILINE))
    return {check: reasons.get(check, "") for check in listed}


def resource_skips(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(check id, logical id) -> comment, for each skip written on a resource."""
    skips = {}
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips[(skip["id"], logical_id)] = skip.get("comment", "")
    return skips


def write_json(path: Path, template: dict[str, Any]) -> Path:
    path.write_text(json.dumps(template, indent=1), encoding="utf-8")
    return path


def test_the_template_scans_clean_with_a_reason_for_every_skip():
    report = scan(ROOT / "template.yaml", CONFIG)

    assert failed(report) == set()
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the resources' own skips were not applied"
    for check in skipped:
        comment = check["check_result"].get("suppress_comment") or ""
        assert len(comment.split()) >= MIN_REASON_WORDS, (check["check_id"], check["resource"], comment)
    assert report["summary"]["passed"] >= 20


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_the_deployed_resources_scan_clean(parameter_set, tmp_path):
    # After SAM's transform: the functions' roles, the rules and their targets are scanned too.
    report = scan(write_json(tmp_path / "transformed.json", translate(PARAMETER_SETS[parameter_set])), CONFIG)

    assert failed(report) == set()
    assert any(check["resource"].startswith("AWS::IAM::Role.") for check in report["results"]["passed_checks"])


def test_each_skip_names_a_finding_that_really_occurs(tmp_path):
    template = load_template()
    own_skips = resource_skips(template)
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)
    empty_config = tmp_path / "no-skips.yaml"
    empty_config.write_text("framework: [cloudformation]\n", encoding="utf-8")

    findings = failed(scan(write_json(tmp_path / "template.json", template), empty_config))

    found_checks = {check for check, _ in findings}
    by_resource = {(check, resource.rsplit(".", 1)[-1]) for check, resource in findings}
    # Every skip still matters: the check fails without it...
    assert set(own_skips) <= by_resource, set(own_skips) - by_resource
    assert set(config_skips()) <= found_checks, set(config_skips()) - found_checks
    # ...and without the skips the scan is not clean, so the clean scans above mean something.
    assert by_resource == set(own_skips) | {(c, r) for c, r in by_resource if c in config_skips()}


def test_each_check_skipped_for_the_whole_template_gives_its_reason():
    skips = config_skips()
    assert skips, ".checkov.yaml skips nothing"
    for check, reason in skips.items():
        assert len(reason.split()) >= MIN_REASON_WORDS, f"{check}: write why on its line in .checkov.yaml"
    for (check, resource), comment in resource_skips(load_template()).items():
        assert len(comment.split()) >= MIN_REASON_WORDS, f"{resource}: the skip of {check} needs a comment"
