"""Writes of the 表24 handover package (第二十七条第3、4项; registers.md §5.4 N-03/N-04).

``package_build`` computes 表24, submits it and signs it as compiled (编制) by the acting 技术组 member, exports
that signed version and every annexed register's current signed version per site in the official frame (xlsx
and PDF), takes a signed audit checkpoint, writes the manifest of every file and signs it with the server's
package key, as one zip. A package whose 表24 is not signed is not built. The working group's approval and the
distribution are recorded afterwards against the package and travel as a signed addendum naming the package's
digest and its 表24 (docs/package.md says why an addendum, not a re-issue nor a signature on 表24).

One module per sub-domain (review §10.7); every name stays importable from ``handover.reports.services``.
"""

from __future__ import annotations

from handover.reports.services.build import (
    _table24,  # noqa: F401  (kept importable for its tests)
    package_file_open,
    package_path,
)
from handover.reports.services.common import (
    ANNEXES,
    BOTH,
    DONE_REGISTERS,
    FROZEN,
    STATE_ZH,
    SiteNotDone,
    annexed_forms,
    sites_not_done,
)
from handover.reports.services.jobs import (
    package_build,
    package_build_request,
    package_build_run,
    package_build_start,
    package_sweep,
)
from handover.reports.services.keys import package_public_key_pem
from handover.reports.services.records import (
    package_addendum_issue,
    package_approve,
    package_distribution_record,
)

__all__ = [
    "ANNEXES",
    "BOTH",
    "DONE_REGISTERS",
    "FROZEN",
    "STATE_ZH",
    "SiteNotDone",
    "annexed_forms",
    "package_addendum_issue",
    "package_approve",
    "package_build",
    "package_build_request",
    "package_build_run",
    "package_build_start",
    "package_distribution_record",
    "package_file_open",
    "package_path",
    "package_public_key_pem",
    "package_sweep",
    "sites_not_done",
]
