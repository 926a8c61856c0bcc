"""Token authentication whose tokens expire with the session idle time, and refuse deactivated or locked users."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

TOKEN_LIFETIME = timedelta(hours=12)


class ExpiringTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user, token = super().authenticate_credentials(key)
        if token.created < timezone.now() - TOKEN_LIFETIME:
            raise exceptions.AuthenticationFailed(_("This token has expired; obtain a new one."))
        if user.is_locked():
            raise exceptions.AuthenticationFailed(_("This account is locked."))
        if settings.HANDOVER_TOTP_REQUIRED and not user.has_totp:
            raise exceptions.AuthenticationFailed(_("Set up a second factor before using the API."))
        return user, token
