"""The Content-Security-Policy header on every response (review L2).

The pages carry no inline script, no ``on…=`` handler and no ``javascript:`` link: behaviour lives in
static/handover/app.js, driven by ``data-`` attributes, and htmx is told not to inject its indicator <style>
(the rules are in app.css). So the policy allows scripts and styles from this origin only: an injected
``<script>`` or ``onerror=`` would not run even if autoescaping were ever bypassed."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.HANDOVER_CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        return response
