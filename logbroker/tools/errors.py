"""The one error type the tools raise: a message fit to show a user, no traceback.

``ToolError`` carries a complete sentence; ``explain`` turns the kafka-python exceptions a tool
can meet into one. The CLI maps ``ToolError`` to exit status 1.
"""

from __future__ import annotations

from kafka import errors as kafka_errors


class ToolError(Exception):
    """A failure to report as one line; the message names what failed and, when known, why."""


def explain(exc: BaseException) -> str:
    """A one-line description of a kafka-python error (its class name without the noise)."""
    if isinstance(exc, kafka_errors.KafkaError):
        name = type(exc).__name__
        desc = getattr(exc, "description", "") or ""
        detail = str(exc)
        # kafka-python renders broker errors as "[Error N] Name: detail"; keep the detail only.
        if detail.startswith("[Error") and ": " in detail:
            detail = detail.split(": ", 1)[1]
        if detail.startswith(name):
            detail = detail[len(name):].lstrip(": ")
        text = detail or desc or name
        return f"{name}: {text}" if text != name else name
    return f"{type(exc).__name__}: {exc}"
