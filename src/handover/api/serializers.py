"""API shapes. Writes are validated here for shape only and carried out by the services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from handover.audit import chain
from handover.audit.models import Event
from handover.org.models import Engagement, Organisation, Person, RoleAssignment, Site
from handover.org.selectors import disposal_date_visible


class EngagementSerializer(serializers.ModelSerializer):
    firm_name = serializers.SerializerMethodField(
        help_text="Shown only to members who may see it (第十一条)."
    )
    disposal_date = serializers.SerializerMethodField(
        help_text="D, shown only to members who may know it: in 准备期 only 技术组 (第十一条 托管时间)."
    )

    class Meta:
        model = Engagement
        fields = ["code", "code_name", "firm_name", "custodian_name", "disposal_date", "phase"]

    def get_firm_name(self, engagement: Engagement) -> str | None:
        names: Any = self.context.get("firm_names", {})  # answered by org.services.firm_name_reveal
        return names.get(engagement.pk)

    def get_disposal_date(self, engagement: Engagement) -> str | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not disposal_date_visible(user=user, engagement=engagement):
            return None
        return engagement.disposal_date.isoformat()


class SiteSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Site.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Site
        fields = ["id", "code", "name", "level", "parent", "path", "address", "is_active"]
        read_only_fields = ["path", "is_active"]


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "type", "contact_person", "phone", "address", "is_active"]
        read_only_fields = ["is_active"]

    def to_representation(self, instance: Organisation) -> dict[str, Any]:
        """The name the selector lets this reader see (第十一条 hides the firm's from some)."""
        data = dict(super().to_representation(instance))
        data["name"] = getattr(instance, "shown_name", instance.name)
        return data


class PersonSerializer(serializers.ModelSerializer):
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(), allow_null=True, required=False)
    login: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        source="user", slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Person
        fields = [
            "id",
            "name",
            "organisation",
            "site",
            "department",
            "post",
            "party",
            "employment_type",
            "employment",
            "leave_date",
            "phone",
            "login",
            "is_active",
        ]
        read_only_fields = ["is_active"]


class LinkLoginSerializer(serializers.Serializer):
    """The login account to link to a person, by its username."""

    username = serializers.CharField(max_length=150)


class RoleSerializer(serializers.ModelSerializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(), allow_null=True, required=False)

    class Meta:
        model = RoleAssignment
        fields = ["id", "person", "role", "site", "observer_body", "granted_at"]
        read_only_fields = ["granted_at"]


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = [*chain.FIELDS, "hash"]


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, write_only=True)
    code = serializers.CharField(
        required=False, allow_blank=True, help_text="TOTP code, when a second factor is set up."
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
