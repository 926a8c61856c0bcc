"""Exceptions of the vault's cryptographic core.

Their messages say what went wrong and what to do, and never contain key material, share data or
plaintext, so a face may show them and a log may keep them. ``code`` is a stable machine-readable name.
"""

from __future__ import annotations


class VaultCryptoError(Exception):
    """Base of every error raised by ``handover.vault.crypto``."""

    code = "vault_crypto"


class DecryptionError(VaultCryptoError):
    """A ciphertext could not be opened: wrong key, altered bytes, or bytes that belong to another record."""

    code = "decryption_failed"


class ShareError(VaultCryptoError, ValueError):
    """A share, a set of shares or the parameters of a split is not acceptable."""

    code = "share_invalid"


class ShareFormatError(ShareError):
    """A share's text cannot be read at all (wrong prefix, stray characters, missing groups)."""

    code = "share_format"


class ShareChecksumError(ShareError):
    """A share was mistyped or damaged: its checksum does not match its contents."""

    code = "share_checksum"

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class ShareMismatchError(ShareError):
    """Shares that cannot be combined with each other (other split, duplicate, inconsistent)."""

    code = "share_mismatch"


class NotEnoughSharesError(ShareError):
    """Fewer shares than the threshold were given."""

    code = "share_not_enough"

    def __init__(self, message: str, *, given: int, threshold: int) -> None:
        super().__init__(message)
        self.given = given
        self.threshold = threshold
