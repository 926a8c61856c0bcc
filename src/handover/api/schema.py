"""The OpenAPI schema states the errors every operation can answer, so a client (and schemathesis's
status-code and response-schema checks) knows them: 400 bad input, 401 no or a bad token, 403 a role that may
not, 404 nothing of that name in the caller's scope, 409 a
precondition a person must meet first, 415 a body type the API does not read (api/errors.py
writes the bodies)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: `detail` says what is wrong and what to do, `code` names it for programs; a"
    " refused field is named in `field` and under its own name (a list of messages), as DRF's validation"
    " errors are.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
    },
    "additionalProperties": True,
}

ERRORS: dict[str, str] = {
    "400": "Bad input: the body, a query parameter or the state of the object refuses the request.",
    "401": "No token, or a token that is not valid.",
    "403": "The caller's roles do not allow this here.",
    "404": "Nothing of that name in the caller's scope.",
    "409": "A precondition a person must meet first (for example the vault is sealed).",
    "415": "A body type the API does not read.",
}


def error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the error responses on every operation, next to its own."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    reference = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
    return result


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, but a viewset whose ``list`` answers one object (a summary, not a page of items)
    says so with ``answers_one_object = True``, and its schema is that object, not a list of it."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        if getattr(self.view, "answers_one_object", False):
            return False
        return bool(super()._is_list_view(serializer))
