"""An ``Inventory`` to and from plain JSON-able data, stable and lossless (dates as ISO text).

Used by the field agent's bundle, the Django side's content-addressed snapshot and the tests that prove a
live gathering and an offline import give the same inventory. ``content`` of sources is never written here
(``with_content=False``, the default): the bytes travel separately, sealed where they hold verifiers.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, get_args, get_origin, get_type_hints

from handover.connectors import model

FORMAT = "handover.inventory/1"


def _plain(value: Any, *, with_content: bool) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if f.name == "content" and isinstance(item, bytes):
                if with_content:
                    out[f.name] = base64.b64encode(item).decode("ascii")
                continue
            out[f.name] = _plain(item, with_content=with_content)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v, with_content=with_content) for v in value]
    return value


def inventory_to_dict(inventory: model.Inventory, *, with_content: bool = False) -> dict[str, Any]:
    """``inventory`` as JSON-able data, with ``format`` naming this layout."""
    return {"format": FORMAT, **_plain(inventory, with_content=with_content)}


@functools.cache
def _fields_of(kind: type) -> tuple[tuple[str, Any], ...]:
    """A dataclass's fields with their resolved types (resolving them per object was most of a read)."""
    hints = get_type_hints(kind)
    return tuple((f.name, hints[f.name]) for f in fields(kind))


def _build(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = get_origin(kind)
    args = [a for a in get_args(kind) if a is not type(None)]
    if origin is tuple:
        item = args[0]
        return tuple(_build(item, v) for v in data)
    if args and origin is not None and not isinstance(kind, type):  # X | None
        return _build(args[0], data)
    if isinstance(kind, type) and is_dataclass(kind):
        values = {}
        for name, hint in _fields_of(kind):
            if name in data:
                values[name] = _build(hint, data[name])
        if "content" in data and kind is model.SourceFile:
            values["content"] = base64.b64decode(data["content"])
        return kind(**values)
    if kind is datetime:
        return datetime.fromisoformat(data)
    if kind is date:
        return date.fromisoformat(data)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(data)
    return data


def inventory_from_dict(data: dict[str, Any]) -> model.Inventory:
    """The ``Inventory`` that ``inventory_to_dict`` wrote; a different ``format`` is refused."""
    if data.get("format") != FORMAT:
        raise ValueError(f"not an inventory of format {FORMAT}: {data.get('format')!r}")
    body = {k: v for k, v in data.items() if k != "format"}
    return _build(model.Inventory, body)


def inventory_dumps(inventory: model.Inventory) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces): equal inventories give equal bytes and digests."""
    return json.dumps(
        inventory_to_dict(inventory), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
