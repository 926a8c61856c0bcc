"""Running a service from a page, for the pages of every app (review §5: five runner variants and the
hand-written try/excepts become these two functions).

A service refuses with a ``DomainError`` naming the field it is about (STYLE rule 6); the page shows the
reason where the reader looks: on that field of the form, on the form as a whole when the field is not on
it, or as a message when the action is a button without a form. ``None`` tells the view it was refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpRequest

from handover.core.errors import DomainError

T = TypeVar("T")


def refusal_shown(
    request: HttpRequest | None, form: Any, exc: DomainError, fields: Mapping[str, str] | None = None
) -> None:
    """Put a service's refusal on ``form`` (the field it names, or the whole form) or, without a form, in the
    page's messages. ``fields`` maps a service's field to the form's where their names differ. A refusal
    carrying one message per field (``errors``, an invalid register row) goes on each of those fields when the
    form knows how (``add_service_errors``)."""
    if form is None:
        if request is None:
            raise exc
        messages.error(request, str(exc.message))
        return
    per_field = getattr(exc, "errors", None)
    if isinstance(per_field, dict) and hasattr(form, "add_service_errors"):
        form.add_service_errors(per_field)
        return
    field = (fields or {}).get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, str(exc.message))


def run(
    request: HttpRequest | None,
    form: Any,
    action: Callable[[], T],
    *,
    fields: Mapping[str, str] | None = None,
) -> T | None:
    """Run a service; its result, or ``None`` with the refusal shown on ``form`` (or in messages; ``fields``
    as for ``refusal_shown``)."""
    try:
        return action()
    except DomainError as exc:
        refusal_shown(request, form, exc, fields)
        return None


def press(request: HttpRequest, action: Callable[[], Any], done: str) -> bool:
    """A button's service call: ``done`` as a success message, or the refusal's reason as an error one."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return False
    messages.success(request, done)
    return True


def chosen(request: HttpRequest, among: Iterable[T], *, name: str, missing: str) -> T:
    """The one of ``among`` (objects with a ``pk``) whose id the POSTed ``name`` gives; a refusal naming
    ``name`` with ``missing`` as its reason when none is (a stale page, a hand-made request)."""
    posted = request.POST.get(name, "")
    found = next((item for item in among if str(getattr(item, "pk", "")) == posted), None)
    if found is None:
        raise DomainError(missing, field=name)
    return found
