from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    name = "handover.risk"
    label = "risk"
    verbose_name = _("Security management")

    def ready(self) -> None:
        # 第二十六条第9项: T-09 waits for the security assessment report, signed and reviewed (the workflow's gates
        # cannot import this app, so the rule plugs in).
        from handover.risk.selectors.assessment import security_assessment_gate
        from handover.workflow import gates

        gates.plug("risk.security_assessment", security_assessment_gate)
