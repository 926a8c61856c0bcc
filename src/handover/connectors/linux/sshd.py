"""The effective sshd configuration and the keys of every ``AuthorizedKeysFile`` it names."""

from __future__ import annotations

import re

from handover.connectors.linux import keys as keyfile
from handover.connectors.linux.reading import Reader, evidence
from handover.connectors.linux.source import clean
from handover.connectors.model import Key

DEFAULT_KEY_FILES = ".ssh/authorized_keys .ssh/authorized_keys2"


def settings(reader: Reader) -> list[tuple[str, str]]:
    """The effective sshd configuration: ``sshd -T`` when collected, else sshd_config (first value wins)."""
    text = reader.text("handover/sshd-T.txt")
    out: dict[str, str] = {}
    if text and text.strip():
        for line in text.splitlines():
            key, _, value = line.strip().partition(" ")
            if key and key not in out:
                out[key.lower()] = value.strip()
        return sorted(out.items())
    reader.warnings.append("sshd -T not collected: the effective sshd settings are read from sshd_config")
    _sshd_file(reader, "etc/ssh/sshd_config", out, depth=0)
    return sorted(out.items())


def _sshd_file(reader: Reader, path: str, out: dict[str, str], *, depth: int) -> None:
    """One sshd_config file into ``out``: the first value of a keyword wins; Include is read in place; what
    is under Match applies to some connections only and is left out (sshd -T gives the global values)."""
    body = reader.text(path)
    if body is None or depth > 16:
        return
    for line in body.splitlines():
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        key = words[0].lower().rstrip("=")
        value = words[1].lstrip("= ").strip() if len(words) > 1 else ""
        if key == "match":
            return  # everything after the first Match belongs to Match blocks
        if key == "include":
            for pattern in value.split():
                pattern = pattern if pattern.startswith("/") else "/etc/ssh/" + pattern
                folder, _, glob = pattern.rpartition("/")
                regex = re.compile("^" + re.escape(glob).replace(r"\*", "[^/]*") + "$")
                for member in reader.source.listdir(folder):
                    if regex.match(member.rsplit("/", 1)[-1]):
                        _sshd_file(reader, member, out, depth=depth + 1)
            continue
        out.setdefault(key, value)


def key_paths(patterns: str, name: str, uid: str, home: str) -> list[str]:
    """The files an ``AuthorizedKeysFile`` value names for one account (%h, %u, %U, %%; relative to home)."""
    out = []
    for pattern in patterns.split():
        if pattern == "none":
            continue
        path = re.sub(
            r"%([%hUu])", lambda m: {"%": "%", "h": home, "u": name, "U": uid}[str(m.group(1))], pattern
        )
        if not path.startswith("/"):
            path = home.rstrip("/") + "/" + path
        out.append(path)
    return out


def keys(reader: Reader, patterns: str, name: str, uid: str, home: str) -> list[Key]:
    """The keys that let someone log in as the account, from every file of ``patterns`` that exists."""
    out = []
    for path in key_paths(patterns, name, uid, home):
        text = reader.text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parsed = keyfile.parse_line(line)
            if isinstance(parsed, str):
                # sshd skips a line it cannot read; so do we, and say so.
                reader.warnings.append(f"{path}:{number}: not a key ({parsed}); sshd ignores it")
                continue
            algorithm, blob, comment, options = parsed
            out.append(
                Key(
                    algorithm,
                    keyfile.fingerprint(blob),
                    comment,
                    options,
                    "/" + clean(path),
                    evidence(reader, path, number, line),
                )
            )
    return out
