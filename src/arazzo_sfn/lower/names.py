"""Pass: names. Step Functions takes state names of at most 80 characters; names built from
long step, action and workflow ids (`<step>.<action>.<workflow>.ChildFailed.Fail`) can be
longer. Each such name is cut to fit and ends with a hash of the whole name, so it stays
unique and the same from one compile to the next; every transition to it follows."""

from __future__ import annotations

import hashlib
from typing import Any

from arazzo_sfn.lower.context import Context

MAX_STATE_NAME = 80
_HASH_CHARS = 8


def shorten(ctx: Context) -> None:
    renamed = {name: fitted(name) for name in ctx.order if len(name) > MAX_STATE_NAME}
    if not renamed:
        return
    ctx.states = {renamed.get(name, name): _retargeted(state, renamed) for name, state in ctx.states.items()}
    ctx.order = [renamed.get(name, name) for name in ctx.order]
    ctx.start = renamed.get(ctx.start, ctx.start)


def fitted(name: str) -> str:
    """The name cut to 80 characters, its last ones a hash of the whole name."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{name[: MAX_STATE_NAME - _HASH_CHARS - 1]}~{digest}"


def _retargeted(state: Any, renamed: dict[str, str]) -> Any:
    """The state with each transition (Next, Default, a Choice rule's or a Catch's Next) to a
    renamed state pointing at its new name."""
    if isinstance(state, list):
        return [_retargeted(item, renamed) for item in state]
    if not isinstance(state, dict):
        return state
    result = {}
    for key, value in state.items():
        if key in ("Next", "Default") and isinstance(value, str):
            result[key] = renamed.get(value, value)
        elif key in ("Choices", "Catch", "And", "Or"):
            result[key] = _retargeted(value, renamed)
        else:
            result[key] = value
    return result
