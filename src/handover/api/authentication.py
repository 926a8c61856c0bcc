"""Token authentication against accounts.ApiToken: only digests are stored; a token ends when idle, at its
absolute expiry, and when its login logs out, changes password or factor, is locked or deactivated."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from handover.accounts import services
from handover.core.errors import DomainError


class ExpiringTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header: give 'Token' and the token."))
        try:
            user, token = services.api_token_authenticate(raw=parts[1].decode("ascii", "replace"))
        except DomainError as exc:
            raise exceptions.AuthenticationFailed(str(exc.message)) from None
        if settings.HANDOVER_TOTP_REQUIRED and not user.has_totp:
            raise exceptions.AuthenticationFailed(_("Set up a second factor before using the API."))
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """The scheme in the OpenAPI document: the header ``Authorization: Token <token>``."""

    target_class = "handover.api.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token authentication with the prefix "Token", from /api/auth/token/.',
        }
