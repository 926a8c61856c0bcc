"""Audit actions of the 表24 handover package (第二十七条第3、4项)."""

from django.utils.translation import gettext_lazy as _

PACKAGE_BUILD = "reports.package.build"
PACKAGE_BUILD_REQUEST = "reports.package.build_request"
PACKAGE_BUILD_FAIL = "reports.package.build_fail"
PACKAGE_DOWNLOAD = "reports.package.download"
PACKAGE_APPROVE = "reports.package.approve"
PACKAGE_DISTRIBUTE = "reports.package.distribute"
ADDENDUM_DOWNLOAD = "reports.package.addendum"

ACTIONS = {
    PACKAGE_BUILD: _("Handover package built"),
    PACKAGE_BUILD_REQUEST: _("Build of a handover package asked"),
    PACKAGE_BUILD_FAIL: _("Build of a handover package failed"),
    PACKAGE_DOWNLOAD: _("Handover package downloaded"),
    PACKAGE_APPROVE: _("Working group's approval of a handover package recorded"),
    PACKAGE_DISTRIBUTE: _("Distribution of a handover package recorded"),
    ADDENDUM_DOWNLOAD: _("Signed addendum of a handover package downloaded"),
}
