"""Audit actions of discovery. No event carries a secret, a verifier or a file's content: only targets,
counts, digests and who."""

from django.utils.translation import gettext_lazy as _

TARGET_SAVE = "discovery.target.save"
RUN_START = "discovery.run.start"
RUN_FINISH = "discovery.run.finish"
RUN_INTERRUPT = "discovery.run.interrupt"
TARGET_GATHER = "discovery.target.gather"
IMPORT = "discovery.import"
BUNDLE_IMPORT = "discovery.bundle.import"
FINDING_DECIDE = "discovery.finding.decide"
HOST_KEY_RECORD = "discovery.target.host_key"

ACTIONS = {
    TARGET_SAVE: _("Discovery target saved (system, host, connector, vault entry)"),
    RUN_START: _("Discovery run started"),
    RUN_FINISH: _("Discovery run finished"),
    RUN_INTERRUPT: _("Discovery run marked interrupted (its worker stopped)"),
    TARGET_GATHER: _("Discovery target gathered (outcome and counts)"),
    IMPORT: _("Discovery file imported (offline)"),
    BUNDLE_IMPORT: _("Discovery field bundle imported"),
    FINDING_DECIDE: _("Decision on a discovery finding (drafts the 表13 change)"),
    HOST_KEY_RECORD: _("Host key recorded on first contact"),
}
