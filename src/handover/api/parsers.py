"""Request bodies: every JSON write takes an object, refused in one place (not in each view) otherwise."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class ObjectJSONParser(JSONParser):
    """A JSON body that is a list, a string, a number or null is a 400 naming what was expected, before any
    view reads ``request.data`` as a mapping (``{**request.data}``, ``.get``) and fails with a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise ParseError(_("The request body must be a JSON object ({…}), not a list or a single value."))
        return data
