"""Where a Linux gathering reads its files: a folder laid out like the host's root, a tar of one, or the
stream the collection script (``linux_collect.sh``) writes over SSH. All three give the same ``Source``.

Paths are relative to the host's root without the leading slash (``etc/passwd``); command outputs are
``handover/<name>.txt`` (``sshd-T``, ``lastlog``, ``wtmp``, ``btmp``, ``faillock``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import tarfile
from importlib import resources
from pathlib import Path

from handover.connectors.errors import ParseError

MAX_FILE_BYTES = 64 << 20  # a passwd of a million users is ~60 MB; more is not a permission file
STREAM_FILE, STREAM_END, STREAM_DONE = "==> HANDOVER FILE ", "==> HANDOVER END ", "==> HANDOVER DONE"


def collect_script() -> str:
    """The collection script's text (``connectors/linux_collect.sh``), run over SSH or by the field agent."""
    return resources.files("handover.connectors").joinpath("linux_collect.sh").read_text(encoding="utf-8")


def clean(path: str) -> str:
    """``path`` relative to the root, normalised, never above it ('' when it would be)."""
    norm = posixpath.normpath("/" + path.strip()).lstrip("/")
    return "" if norm in ("", ".") else norm


class Source:
    """The files of one host, read once each; ``read`` keeps what was asked for and found, in order."""

    def __init__(
        self, files: dict[str, bytes] | None = None, *, label: str, root: Path | None = None
    ) -> None:
        self._files = files if files is not None else {}
        self._root = root  # a folder read on demand (``/`` has far more files than the parse needs)
        self.label = label
        self.read: dict[str, bytes] = {}

    def get(self, path: str) -> bytes | None:
        name = clean(path)
        if not name:
            return None
        data = self._files.get(name) if self._root is None else self._load(name)
        if data is not None:
            self.read[name] = data
        return data

    def _load(self, name: str) -> bytes | None:
        assert self._root is not None
        path = self._root / name
        try:
            if not path.is_file():
                return None
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            return None
        if len(data) > MAX_FILE_BYTES:
            raise ParseError("/" + name, None, "larger than 64 MiB", "超过 64 MiB")
        return data

    def listdir(self, folder: str) -> list[str]:
        """The files directly in ``folder`` (relative paths), sorted by name."""
        base = clean(folder)
        if self._root is not None:
            try:
                entries = sorted(p.name for p in (self._root / base).iterdir() if p.is_file())
            except OSError:
                return []
            return [f"{base}/{e}" for e in entries]
        prefix = base + "/"
        return sorted(n for n in self._files if n.startswith(prefix) and "/" not in n[len(prefix) :])


def _wanted(name: str) -> bool:
    """Whether a file of a tar is one the parse may read (the tar may hold a whole root)."""
    return name.split("/", 1)[0] in ("etc", "root", "home", "var", "handover") or name.count("/") >= 2


def from_folder(root: Path) -> Source:
    """The files under ``root``: a collection folder, or ``/`` itself (read on demand)."""
    if not root.is_dir():
        raise ParseError(str(root), None, "not a folder", "不是文件夹")
    return Source(label=str(root), root=root)


def from_tar(path: Path) -> Source:
    """The regular files of a tar (optionally compressed) laid out like a host's root."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                if not member.isfile() or member.size > MAX_FILE_BYTES:
                    continue
                name = clean(member.name)
                if not name or not _wanted(name):
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    files[name] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ParseError(
            str(path), None, f"not a readable tar ({exc})", f"不是可读的 tar 文件（{exc}）"
        ) from None
    # A tar made with `tar -C OUTDIR .` or of OUTDIR itself: strip one leading folder if it holds etc/.
    if "etc/passwd" not in files:
        tops = {n.split("/", 1)[0] for n in files if "/" in n}
        for top in tops:
            if f"{top}/etc/passwd" in files:
                files = {n[len(top) + 1 :]: v for n, v in files.items() if n.startswith(top + "/")}
                break
    return Source(files, label=str(path))


def from_stream(data: bytes, *, label: str) -> Source:
    """The files the collection script wrote to stdout; a cut-off stream or a wrong digest is refused."""
    files: dict[str, bytes] = {}
    name, kind, body = "", "", []  # type: ignore[var-annotated]
    done = False
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.decode("utf-8", "surrogateescape")
        if line.startswith(STREAM_FILE):
            kind, _, rest = line[len(STREAM_FILE) :].partition(" ")
            name, body = clean(rest), []
        elif line.startswith(STREAM_END):
            if not name:
                raise ParseError(label, number, "an END without a FILE", "有 END 而无 FILE")
            text = "".join(body)
            try:
                content = base64.b64decode(text, validate=False) if kind == "b64" else bytes.fromhex(text)
            except (binascii.Error, ValueError):
                raise ParseError(label, number, f"{name} is not well encoded", f"{name} 编码有误") from None
            expected = line[len(STREAM_END) :].strip()
            if expected != "-" and hashlib.sha256(content).hexdigest() != expected:
                raise ParseError(
                    label,
                    number,
                    f"{name} was cut off in transfer (digest differs)",
                    f"{name} 传输不完整（摘要不符）",
                )
            files[name] = content
            name = ""
        elif line.startswith(STREAM_DONE):
            done = True
        elif name:
            body.append(line.strip())
    if not done or name:
        raise ParseError(label, None, "the collection stream was cut off", "采集输出不完整（被截断）")
    return Source(files, label=label)
