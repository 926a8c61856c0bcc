"""Audit actions of engagements, sites, organisations, people and roles."""

from django.utils.translation import gettext_lazy as _

ENGAGEMENT_CREATE = "org.engagement.create"
ENGAGEMENT_UPDATE = "org.engagement.update"
ENGAGEMENT_VIEW_FIRM = "org.engagement.view_firm_name"
SITE_CREATE = "org.site.create"
SITE_UPDATE = "org.site.update"
SITE_DEACTIVATE = "org.site.deactivate"
ORG_CREATE = "org.organisation.create"
ORG_UPDATE = "org.organisation.update"
ORG_DEACTIVATE = "org.organisation.deactivate"
PERSON_CREATE = "org.person.create"
PERSON_UPDATE = "org.person.update"
PERSON_DEACTIVATE = "org.person.deactivate"
PERSON_LINK_LOGIN = "org.person.link_login"
PERSON_UNLINK_LOGIN = "org.person.unlink_login"
ROLE_GRANT = "org.role.grant"
ROLE_REVOKE = "org.role.revoke"
ACCESS_DENIED = "org.access.denied"

ACTIONS = {
    ENGAGEMENT_CREATE: _("Engagement created"),
    ENGAGEMENT_UPDATE: _("Engagement changed"),
    ENGAGEMENT_VIEW_FIRM: _("Firm's real name viewed"),
    SITE_CREATE: _("Site created"),
    SITE_UPDATE: _("Site changed"),
    SITE_DEACTIVATE: _("Site deactivated"),
    ORG_CREATE: _("Organisation created"),
    ORG_UPDATE: _("Organisation changed"),
    ORG_DEACTIVATE: _("Organisation deactivated"),
    PERSON_CREATE: _("Person created"),
    PERSON_UPDATE: _("Person changed"),
    PERSON_DEACTIVATE: _("Person deactivated"),
    PERSON_LINK_LOGIN: _("Login account linked to a person"),
    PERSON_UNLINK_LOGIN: _("Login account unlinked from a person"),
    ROLE_GRANT: _("Role granted"),
    ROLE_REVOKE: _("Role revoked"),
    ACCESS_DENIED: _("Access refused"),
}
