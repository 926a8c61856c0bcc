from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "handover.reports"
    label = "reports"
    verbose_name = _("Reports and the handover package")

    def ready(self) -> None:
        # The workflow's gate of 交接期 → 稳定期 asks which 表24 托管工作组 approved; the approval is ours.
        from handover.reports import selectors
        from handover.workflow.services import phases

        phases.approved_table24_answer(selectors.table24_approved)
        # A signed version never changes: export it for the package once it is signed, not at the build.
        from handover.registers import hooks
        from handover.reports.services.annexes import annex_export_asked

        hooks.form_signed_register(annex_export_asked)
