"""Writes to engagements, sites, organisations, people and roles. Each is one transaction with its audit event.

One module per sub-domain (review §10.7); every name stays importable from ``handover.org.services``.
"""

from __future__ import annotations

from handover.org.services.common import HIDDEN_IN_TRAIL
from handover.org.services.engagements import engagement_create, firm_name_reveal
from handover.org.services.logins import person_link_login, person_unlink_login
from handover.org.services.organisations import (
    organisation_create,
    organisation_deactivate,
    organisation_update,
)
from handover.org.services.people import person_create, person_deactivate, person_update
from handover.org.services.roles import role_grant, role_revoke
from handover.org.services.sites import site_create, site_deactivate, site_update

__all__ = [
    "HIDDEN_IN_TRAIL",
    "engagement_create",
    "firm_name_reveal",
    "organisation_create",
    "organisation_deactivate",
    "organisation_update",
    "person_create",
    "person_deactivate",
    "person_link_login",
    "person_unlink_login",
    "person_update",
    "role_grant",
    "role_revoke",
    "site_create",
    "site_deactivate",
    "site_update",
]
