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

# 第二十七条第4项: 技术组 compiles 表24 (编制) from the handover lists, which are its annexes and carry the
# signatures of each site's 现场技术岗位 and 被托管技术方; 表24's own footer is 技术组's alone. 托管工作组's
# 批准 is no login's signature: it is recorded against the package that carries 表24 (docs/package.md).
COMPILED_BY_TECH_GROUP = (catalogue.HANDOVER_SUMMARY,)
# 第二十条第3项 (trace C25): 表1–4 are the firm's routine 月报/季报 returns to the 证监局, passed on to 技术组 in
# 准备期, before any 现场技术岗位 exists and while the custody is confidential (第十一条): 技术组 records and signs
# them as their receiver; the firm's own signatures (填表人, 部门负责人) are on the return it filed (registers.md §3.1).
RECEIVED_BY_TECH_GROUP = (1, 2, 3, 4)


def footer_roles(register_no: int) -> tuple[str, ...]:
    """The footer signatures a form of this register needs, in the footer's order (registers.md §1)."""
    if register_no in COMPILED_BY_TECH_GROUP or register_no in RECEIVED_BY_TECH_GROUP:
        return (Role.TECH_GROUP,)
    spec = catalogue.get(register_no)
    roles: list[str] = [Role.ONSITE_POST]
    if spec.finance_signs:
        roles.append(Role.FIRM_FINANCE)
    roles.append(Role.FIRM_IT)
    if spec.tech_group_signs:
        roles.append(Role.TECH_GROUP)
    return tuple(roles)


# Who files a signed form away: the custodian's side (第二十七条第4项: 技术组 keeps the lists as annexes of 表24).
ARCHIVERS = frozenset({Role.ONSITE_POST, Role.TECH_GROUP})
