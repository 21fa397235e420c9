"""Where the files the commands read besides code are: the SAM template and what it names (the
state machines, the functions' code), the workflow, the API description it names and the
schemas. An installed package has them as package data (`deployment/`, in the checkout's
layout, copied there when the wheel is built: see setup.py); a checkout, or an editable
install of it, has them where SAM reads them."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# The package's copy, and the checkout this module sits in (src/airbyte_resync/files.py).
PACKAGED = "deployment"
CHECKOUT = Path(__file__).resolve().parents[2]


def deployment_root() -> Path:
    """The folder holding template.yaml and the files it names."""
    packaged = resources.files("airbyte_resync") / PACKAGED
    # An installed wheel is a folder on disk; a zipped install cannot hand the functions' code to the engine.
    if isinstance(packaged, Path) and (packaged / "template.yaml").is_file():
        return packaged
    if (CHECKOUT / "template.yaml").is_file():
        return CHECKOUT
    raise FileNotFoundError(f"template.yaml is neither package data of airbyte_resync ({packaged}) nor in a checkout ({CHECKOUT}): reinstall the package")


ROOT = deployment_root()
TEMPLATE = ROOT / "template.yaml"
WORKFLOW = ROOT / "workflows" / "airbyte-reset-and-resync.arazzo.yaml"
STATE_MACHINES = ROOT / "statemachine"
SCHEMAS = ROOT / "schemas"
