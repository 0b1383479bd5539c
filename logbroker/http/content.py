"""Content negotiation: JSON by default, msgpack when the client says ``application/msgpack``.

Request bodies are decoded by their ``Content-Type`` (``application/json``, ``application/*+json``
or no header: JSON; ``application/msgpack`` / ``application/x-msgpack``: msgpack; anything else,
including ``text/plain``, an empty or an unparseable type: 415). Answers use msgpack when the
``Accept`` header names it (or, with no ``Accept`` preference, when the request body was msgpack),
else JSON. In msgpack, record keys, values and header values travel as raw bytes (bin type).
"""

from __future__ import annotations

import json
from typing import Any

import msgpack
from aiohttp import hdrs, web

JSON = "application/json"
MSGPACK = "application/msgpack"
_MSGPACK_TYPES = (MSGPACK, "application/x-msgpack")


def wants_msgpack(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    if any(t in accept for t in _MSGPACK_TYPES):
        return True
    if accept and JSON in accept:
        return False
    return body_is_msgpack(request)


def body_is_msgpack(request: web.Request) -> bool:
    return request.content_type in _MSGPACK_TYPES


def body_is_json(request: web.Request) -> bool:
    """A body sent without a ``Content-Type`` is read as JSON; one that names a type must name JSON
    (``application/json`` or ``+json``): text, empty and unparseable types are refused with 415."""
    if hdrs.CONTENT_TYPE not in request.headers:
        return True
    ctype = request.content_type
    return ctype == JSON or (ctype.startswith("application/") and ctype.endswith("+json"))


def _json_default(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        # Only reached for JSON answers; routes render record bytes per value_format before this.
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(request: web.Request, data: Any) -> tuple[bytes, str]:
    """The answer body and its content type for ``data``."""
    if wants_msgpack(request):
        return msgpack.packb(data, use_bin_type=True), MSGPACK
    return json.dumps(data, default=_json_default, separators=(",", ":")).encode(), JSON


def respond(request: web.Request, data: Any, *, status: int = 200) -> web.Response:
    body, content_type = encode(request, data)
    return web.Response(body=body, status=status, content_type=content_type)


class BodyError(ValueError):
    """The request body is not valid JSON/msgpack."""


class UnsupportedMediaTypeError(BodyError):
    """The request body is in a format this API does not read."""


async def read_body(request: web.Request) -> Any:
    """The decoded request body. Raises BodyError for undecodable bytes (aiohttp raises 413 first
    when the body is larger than the application's ``client_max_size``)."""
    raw = await request.read()
    if body_is_msgpack(request):
        try:
            return msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
            raise BodyError(f"request body is not valid msgpack: {exc}") from None
        except Exception as exc:  # msgpack raises a few more kinds on hostile input
            raise BodyError(f"request body is not valid msgpack: {exc}") from None
    if raw and not body_is_json(request):
        raise UnsupportedMediaTypeError(
            f"unsupported content type {request.headers.get(hdrs.CONTENT_TYPE)!r}: "
            f"send application/json or application/msgpack")
    if not raw:
        raise BodyError("request body is empty")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BodyError(f"request body is not valid JSON: {exc}") from None
