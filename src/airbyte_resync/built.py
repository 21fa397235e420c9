"""After `sam build`: import every built function as Lambda would, with only its own folder,
the project's layers (in the template's order), and what the given interpreter has: it stands
for the Lambda runtime with AWS's Powertools layer, so it should have boto3 and Powertools
and nothing else. Catches a function that imports something its bundle lacks before it is
deployed.

    python -m airbyte_resync.built .aws-sam/build <a python3.12 with boto3 and Powertools>   (`make sam-build`)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from airbyte_resync import files
from airbyte_resync.template import load_template

LAYERS = ("ArazzoRuntimeLayer", "AirbyteClientLayer")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m airbyte_resync.built BUILD_DIR LAMBDA_PYTHON", file=sys.stderr)
        return 2
    build, python = Path(argv[0]), argv[1]
    template = load_template(files.TEMPLATE)
    functions = [name for name, resource in template["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"]
    layers = [str(build / layer / "python") for layer in LAYERS]
    failed = 0
    for name in functions:
        path = os.pathsep.join([str(build / name), *layers])
        environment = {**os.environ, "PYTHONPATH": path, "PYTHONNOUSERSITE": "1", "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_SERVICE_NAME": "airbyte-resync", "POWERTOOLS_METRICS_NAMESPACE": "AirbyteResync"}
        done = subprocess.run([python, "-c", "import app"], cwd=build / name, env=environment, capture_output=True, text=True)
        print(f"{name}: {'imports' if done.returncode == 0 else 'FAILS: ' + done.stderr.strip().splitlines()[-1]}")
        failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
