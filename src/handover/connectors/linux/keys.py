"""authorized_keys lines (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): options, type, key, comment; the
fingerprint as ``ssh-keygen -l`` prints it (``SHA256:`` and the unpadded base64 of the key blob's SHA-256)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

KEY_TYPES = {
    "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com",
}  # fmt: skip
CERT_TYPES = {t.replace("@openssh.com", "") + "-cert-v01@openssh.com" for t in KEY_TYPES}


def is_key_type(word: str) -> bool:
    return word in KEY_TYPES or word in CERT_TYPES


def fingerprint(blob: bytes) -> str:
    """``SHA256:<base64 without padding>`` of the key blob, as ``ssh-keygen -lf`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def split_options(text: str) -> tuple[str, ...]:
    """``from="a,b",no-pty,command="x y"`` into its options (commas inside quotes kept)."""
    out, current, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == '"':
            current.append(ch)
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return tuple(o for o in out if o)


def _options_end(line: str) -> int:
    """Where the options field of ``line`` ends (the first blank outside quotes)."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        elif ch in " \t" and not quoted:
            return i
    return len(line)


def parse_line(line: str) -> tuple[str, bytes, str, tuple[str, ...]] | str:
    """(algorithm, blob, comment, options) of one key line, or why it is not one (sshd skips such lines)."""
    text = line.strip()
    options: tuple[str, ...] = ()
    first = text.split(None, 1)[0]
    if not is_key_type(first):
        end = _options_end(text)
        options = split_options(text[:end])
        text = text[end:].strip()
        if not text:
            return "options without a key"
        first = text.split(None, 1)[0]
        if not is_key_type(first):
            return f"unknown key type {first[:40]!r}"
    parts = text.split(None, 2)
    if len(parts) < 2:
        return "a key type without a key"
    algorithm, encoded = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) > 2 else ""
    try:
        blob = base64.b64decode(encoded, validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        inner = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, ValueError, struct.error, UnicodeDecodeError):
        return "the key is not valid base64 of an SSH key"
    if inner != algorithm:
        return f"the key says {inner[:40]!r}, the line {algorithm!r}"
    return algorithm, blob, comment, options
