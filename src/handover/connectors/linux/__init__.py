"""The Linux connector: accounts, groups, sudo rights, SSH keys, jobs and last logins of one host, live over
SSH (``ssh.gather``) or from a folder or tar laid out like the host's root (``parse``), which the collection
script ``connectors/linux_collect.sh`` writes. Both read the files with the same code (``inventory.build``).
"""

from __future__ import annotations

import tarfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from handover.connectors import run
from handover.connectors.errors import ParseError
from handover.connectors.linux.inventory import build
from handover.connectors.linux.source import Source, from_folder, from_stream, from_tar
from handover.connectors.manifest import Credential, Manifest, Target, register
from handover.connectors.model import Inventory


def source_of(path: Path) -> Source:
    """The files at ``path``: a folder laid out like a host's root, or a tar of one."""
    if path.is_dir():
        return from_folder(path)
    if path.is_file() and tarfile.is_tarfile(path):
        return from_tar(path)
    raise ParseError(str(path), None, "neither a folder nor a tar file", "既不是文件夹也不是 tar 文件")


def parse(path: Path) -> Inventory:
    """The inventory of the host whose files are at ``path``; a bad line raises ``ParseError``."""
    return build(source_of(Path(path)), target=str(path))


async def gather(target: Target, credential: Credential) -> Inventory:
    from handover.connectors.linux import ssh

    return await ssh.gather(target, credential)


def gather_many(
    targets: Sequence[Target],
    credentials: Sequence[Credential] | Mapping[Target, Credential],
    concurrency: int = 32,
    per_site: int = 8,
) -> AsyncIterator[run.Outcome]:
    """Every target's outcome as it finishes, at most ``concurrency`` at once and ``per_site`` per site."""
    return run.gather_many(gather, targets, credentials, concurrency=concurrency, per_site=per_site)


MANIFEST = register(
    Manifest(
        code="linux",
        label_zh="Linux 主机",
        label_en="Linux host",
        default_port=22,
        gather=gather,
        parse=parse,
        offline_kinds=("linux",),
    )
)

__all__ = ["MANIFEST", "build", "from_stream", "gather", "gather_many", "parse", "source_of"]
