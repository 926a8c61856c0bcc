"""Who signs what in the registers: the signing policy, read by the services that sign and by the
selectors that offer the signing buttons (review §4.6: selectors imported it from services).

第八条: "托管方监督，被托管方执行" — a row of a ★ register is signed by its executor (被托管技术方) and its
supervisor (现场技术岗位, or 技术组); a form's footer by the roles its register names (registers.md §1).
"""

from __future__ import annotations

from handover.org.models import Role
from handover.registers import catalogue
from handover.registers.models import SignatureKind

# Who signs a row of a ★ register (registers.md §1.2).
ROW_SIGNERS: dict[str, frozenset[str]] = {
    SignatureKind.EXECUTOR: frozenset({Role.FIRM_IT}),
    SignatureKind.SUPERVISOR: frozenset({Role.ONSITE_POST, Role.TECH_GROUP}),
}


def footer_roles(register_no: int) -> tuple[str, ...]:
    """The footer signatures a form of this register needs, in the footer's order (its ``RegisterSpec``)."""
    return catalogue.get(register_no).footer


# Who files a signed form away: the custodian's side (第二十七条第4项: 技术组 keeps the lists as annexes of 表24).
ARCHIVERS = frozenset({Role.ONSITE_POST, Role.TECH_GROUP})
