"""Stage 6, emit: the ASL as deterministic JSON text (same input, same bytes)."""

from __future__ import annotations

import json
from typing import Any


def emit_json(asl: dict[str, Any]) -> str:
    return json.dumps(asl, indent=2, ensure_ascii=False) + "\n"
