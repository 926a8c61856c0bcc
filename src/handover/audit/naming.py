"""Objects of the trail by their names (UX review M7): ``表8 BR-HZ-T08-20261204-001 v1``, not ``registers.form 88``.

An event stores only ``object_type`` (``app_label.model``) and ``object_id``; the trail sits below the apps whose
objects it names, so it imports none of them. A name is the object's ``trail_name`` where it has one (where
its ``str()`` must not reach every reader of the trail, as the firm's name, 第十一条), else its ``str()``, read
with one query per type on a page. An app whose ``str()`` follows relations declares ``OBJECT_NAMES_RELATED`` in
its ``events.py`` (object type → ``select_related`` paths), read with its ``ACTIONS`` by ``catalogue.load_all``;
without it a page of 50 rows would cost a query per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError

_related: dict[str, tuple[str, ...]] = {}


def related_register(object_type: str, paths: Iterable[str]) -> None:
    """Relations to read with the objects of one type (an app's ``OBJECT_NAMES_RELATED``)."""
    _related[object_type] = tuple(paths)


def object_names(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Names of ``(object_type, object_id)`` pairs; a pair whose object is gone or unknown is left out."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for object_type, object_id in pairs:
        if object_type and object_id:
            wanted[object_type].add(object_id)
    names: dict[tuple[str, str], str] = {}
    for object_type, ids in wanted.items():
        for pk, obj in _objects(object_type, ids).items():
            named = getattr(obj, "trail_name", None)
            names[(object_type, str(pk))] = str(named() if callable(named) else obj)
    return names


def _objects(object_type: str, ids: set[str]) -> dict[Any, Any]:
    app_label, _, model_name = object_type.partition(".")
    try:
        model = apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        return {}  # a type that is not a model (a file, a host): the id is the name
    keys = []
    for object_id in ids:
        try:
            keys.append(model._meta.pk.to_python(object_id))
        except (ValueError, TypeError, ValidationError):
            continue  # an id that is not a key of the model (a login name typed at a failed login)
    manager = model._default_manager.select_related(*_related.get(object_type, ()))
    return manager.in_bulk(keys) if keys else {}
