"""REST endpoints of the vault: its status, entries (never a secret) and reveal requests. The reveal itself
is a page only: a secret is shown to a person once, not handed to API clients."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handover.api.base import EngagementScopedViewSet
from handover.core.errors import PermissionDenied
from handover.org import permissions as perms
from handover.org.selectors import engagement_ids_for
from handover.vault import lifecycle, selectors, services
from handover.vault.models import RevealPurpose, RevealRequest, SecretEntry


class VaultStatusSerializer(serializers.Serializer):
    initialised = serializers.BooleanField()
    sealed = serializers.BooleanField()
    shares = serializers.IntegerField()
    threshold = serializers.IntegerField()
    cipher_name = serializers.CharField()
    nonce = serializers.CharField()
    entered = serializers.ListField(child=serializers.IntegerField())


class SecretEntrySerializer(serializers.ModelSerializer):
    site = serializers.IntegerField(source="site_id", read_only=True)
    system = serializers.CharField(source="account.system.name", read_only=True)
    host = serializers.CharField(source="account.asset.hostname", read_only=True, default="")
    layer = serializers.CharField(source="account.layer", read_only=True)
    account = serializers.CharField(source="account.login_name", read_only=True)
    account_class = serializers.CharField(source="account.account_class", read_only=True)
    reference = serializers.CharField(read_only=True)
    versions = serializers.SerializerMethodField()

    class Meta:
        model = SecretEntry
        fields = [
            "id",
            "reference",
            "site",
            "system",
            "host",
            "layer",
            "account",
            "account_class",
            "custody_mode",
            "envelope_no",
            "safe",
            "captured_at",
            "changed_at",
            "last_verified_at",
            "verify_result",
            "next_due_on",
            "versions",
        ]

    def get_versions(self, entry: SecretEntry) -> int:
        return entry.versions.count()


class RevealRequestSerializer(serializers.ModelSerializer):
    entry = serializers.PrimaryKeyRelatedField(queryset=SecretEntry.objects.none())
    purpose = serializers.ChoiceField(choices=RevealPurpose.choices)

    class Meta:
        model = RevealRequest
        fields = [
            "id",
            "entry",
            "purpose",
            "reason",
            "status",
            "requester",
            "approver",
            "expires_at",
            "spent_at",
        ]
        read_only_fields = ["status", "requester", "approver", "expires_at", "spent_at"]


class VaultStatusView(APIView):
    """Sealed or unsealed, and the unseal ceremony's progress."""

    read_capability = perms.VAULT_UNSEAL

    @extend_schema(responses=VaultStatusSerializer)
    def get(self, request: Request) -> Response:
        if not engagement_ids_for(user=request.user, capability=perms.VAULT_UNSEAL):
            raise PermissionDenied(_("You do not have the role needed for this here."))
        return Response(VaultStatusSerializer(lifecycle.vault_status()).data)


class SecretEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, EngagementScopedViewSet):
    """Vault entries of your sites: which account, custody and dates; never the secret."""

    serializer_class = SecretEntrySerializer
    lookup_value_regex = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # entries are UUIDs
    read_capability = perms.VAULT_VIEW
    write_capability = perms.VAULT_CAPTURE

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return SecretEntry.objects.none()
        return selectors.entry_list(user=self.request.user, engagement=self.engagement)


class RevealRequestViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, EngagementScopedViewSet):
    """Your reveal requests and those you may decide; POST asks for a reveal (approve and open on the pages)."""

    serializer_class = RevealRequestSerializer
    read_capability = perms.VAULT_REQUEST
    write_capability = perms.VAULT_REQUEST

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return RevealRequest.objects.none()
        return selectors.request_list(user=self.request.user, engagement=self.engagement)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        serializer = super().get_serializer(*args, **kwargs)
        if not getattr(self, "swagger_fake_view", False) and "entry" in getattr(serializer, "fields", {}):
            serializer.fields["entry"].queryset = selectors.entry_list(
                user=self.request.user, engagement=self.engagement
            )
        return serializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.reveal_request_create(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)
