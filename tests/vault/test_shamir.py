"""Shamir's secret sharing: recovery, secrecy below the threshold, damage detection, the typable form."""

from __future__ import annotations

import base64
import dataclasses
import itertools
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from handover.vault.crypto import shamir
from handover.vault.crypto.errors import (
    NotEnoughSharesError,
    ShareChecksumError,
    ShareError,
    ShareFormatError,
    ShareMismatchError,
)

# No example database: nothing written into the working tree.
PROPERTY = settings(database=None, deadline=None, max_examples=60)
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@st.composite
def splits(draw: st.DrawFn, *, min_secret: int = 1) -> tuple[bytes, list[shamir.Share]]:
    """A secret and its shares, small enough to enumerate every subset."""
    threshold = draw(st.integers(min_value=2, max_value=5))
    count = draw(st.integers(min_value=threshold, max_value=6))
    secret = draw(st.binary(min_size=min_secret, max_size=48))
    return secret, shamir.split(secret, shares=count, threshold=threshold)


def test_field_arithmetic_is_the_aes_field() -> None:
    # FIPS-197 section 4.2: {57} • {83} = {c1} and {57} • {13} = {fe}.
    assert shamir._mul(0x57, 0x83) == 0xC1
    assert shamir._mul(0x57, 0x13) == 0xFE
    for a in range(1, 256):
        assert shamir._mul(a, shamir._div(1, a)) == 1
    assert sorted(shamir._EXP[:255]) == list(range(1, 256))


@PROPERTY
@given(splits())
def test_every_threshold_subset_recovers_the_secret(case: tuple[bytes, list[shamir.Share]]) -> None:
    secret, shares = case
    threshold = shares[0].threshold
    for subset in itertools.combinations(shares, threshold):
        assert shamir.combine(subset) == secret
    assert shamir.combine(reversed(shares)) == secret


@PROPERTY
@given(splits(min_secret=16))
def test_no_subset_below_the_threshold_recovers_the_secret(case: tuple[bytes, list[shamir.Share]]) -> None:
    secret, shares = case
    threshold = shares[0].threshold
    for subset in itertools.combinations(shares, threshold - 1):
        with pytest.raises(NotEnoughSharesError, match=f"{threshold - 1} of the {threshold} shares"):
            shamir.combine(subset)
        # Past the threshold check, the raw interpolation of K−1 points lands on some other value
        # (equal to the secret with probability 256^-len, i.e. never for 16 bytes and more).
        assert shamir.interpolate([(share.index, share.data) for share in subset], at=0) != secret


def test_one_share_below_the_threshold_is_uniform_whatever_the_secret() -> None:
    # Threshold 2: share x of secret byte s is s + a·x for a uniform coefficient a. For every s and x,
    # running a over the whole field gives every share value exactly once: the share says nothing about s.
    for x in (1, 2, 77, 255):
        for secret_byte in (0x00, 0x5A, 0xFF):
            values = Counter(shamir._evaluate((secret_byte, a), x) for a in range(256))
            assert len(values) == 256


@PROPERTY
@given(splits(), st.data())
def test_a_damaged_share_is_detected_and_named(
    case: tuple[bytes, list[shamir.Share]], data: st.DataObject
) -> None:
    _, shares = case
    victim = data.draw(st.sampled_from(shares))
    name = data.draw(st.sampled_from(["set_id", "data", "checksum"]))
    value = bytearray(getattr(victim, name))
    value[data.draw(st.integers(0, len(value) - 1))] ^= data.draw(st.integers(1, 255))
    damaged = dataclasses.replace(victim, **{name: bytes(value)})
    assert victim.is_intact() and not damaged.is_intact()
    others = [share for share in shares if share.index != victim.index]
    with pytest.raises(ShareChecksumError, match=f"Share {victim.index} is damaged") as caught:
        shamir.combine([damaged, *others])
    assert caught.value.index == victim.index


def test_a_share_whose_number_or_threshold_changed_is_detected() -> None:
    shares = shamir.split(b"k" * 32, shares=5, threshold=3)
    assert not dataclasses.replace(shares[0], index=4).is_intact()
    assert not dataclasses.replace(shares[0], threshold=2).is_intact()
    with pytest.raises(ShareChecksumError):
        shamir.combine([dataclasses.replace(shares[0], index=4), shares[1], shares[2]])


@PROPERTY
@given(splits(), st.data())
def test_any_mistyped_character_of_the_text_is_detected(
    case: tuple[bytes, list[shamir.Share]], data: st.DataObject
) -> None:
    _, shares = case
    text = data.draw(st.sampled_from(shares)).encode()
    position = data.draw(st.sampled_from([i for i, char in enumerate(text) if char != "-"]))
    replacement = data.draw(st.sampled_from(BASE32))
    assume(replacement != text[position])
    with pytest.raises((ShareChecksumError, ShareFormatError)):
        shamir.Share.decode(text[:position] + replacement + text[position + 1 :])


@PROPERTY
@given(splits(), st.data())
def test_a_missing_or_extra_character_is_detected(
    case: tuple[bytes, list[shamir.Share]], data: st.DataObject
) -> None:
    _, shares = case
    text = data.draw(st.sampled_from(shares)).encode()
    position = data.draw(st.integers(0, len(text) - 1))
    assume(text[position] != "-")
    with pytest.raises(ShareError):
        shamir.Share.decode(text[:position] + text[position + 1 :])
    with pytest.raises(ShareError):
        shamir.Share.decode(text[:position] + data.draw(st.sampled_from(BASE32)) + text[position:])


@PROPERTY
@given(splits(), st.data())
def test_the_text_form_round_trips_through_a_careless_typist(
    case: tuple[bytes, list[shamir.Share]], data: st.DataObject
) -> None:
    _, shares = case
    for share in shares:
        text = share.encode()
        assert shamir.Share.decode(text) == share
        sloppy = "".join(
            data.draw(st.sampled_from([char.lower(), char, " ", "-"])) if char == "-" else char.lower()
            for char in text
        )
        assert shamir.Share.decode(f"  {sloppy}\n") == share


def test_the_text_form_is_grouped_and_names_threshold_and_number() -> None:
    share = shamir.split(b"m" * 32, shares=5, threshold=3)[1]
    text = share.encode()
    prefix, threshold, number, *groups = text.split("-")
    assert (prefix, threshold, number) == ("HOV1", "K003", "S002")
    assert all(len(group) == shamir.GROUP for group in groups[:-1]) and 1 <= len(groups[-1]) <= shamir.GROUP
    assert set("".join(groups)) <= set(BASE32)


def test_digits_mistaken_for_letters_are_read_as_the_letters() -> None:
    share = shamir.Share.create(
        index=1, threshold=2, set_id=base64.b32decode("OIB" * 5 + "O")[:8], data=b"k" * 32
    )
    text = share.encode()
    assert {"O", "I", "B"} <= set(text[len("HOV1-K002-S001-") :])
    head, body = text[: len("HOV1-K002-S001-")], text[len("HOV1-K002-S001-") :]
    assert shamir.Share.decode(head + body.replace("O", "0").replace("I", "1").replace("B", "8")) == share


def test_a_change_hidden_in_the_last_characters_spare_bits_is_detected() -> None:
    # 1 byte of data: 14 bytes in base32 take 23 characters, whose last one carries 3 unused bits.
    share = shamir.split(b"k", shares=2, threshold=2)[0]
    text = share.encode()
    last = BASE32.index(text[-1])
    for spare in (1, 2, 4):
        with pytest.raises(ShareChecksumError):
            shamir.Share.decode(text[:-1] + BASE32[last ^ spare])


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "begins with HOV1"),
        ("HOV2-K003-S001-AAAAA", "begins with HOV1"),
        ("HOV1-3-1-AAAAA", "unreadable"),
        ("HOV1-K003-S001-AAAA!-AAAAA", "'!' cannot appear"),
        ("HOV1-K003-S001-AAAAA", "incomplete"),
        ("HOV1-K001-S001-" + "A" * 40, "Threshold 1 is out of range"),
        ("HOV1-K003-S000-" + "A" * 40, "Share number 0 is out of range"),
    ],
)
def test_unreadable_text_gets_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ShareFormatError, match=message):
        shamir.Share.decode(text)


def test_a_mistyped_share_is_reported_by_number() -> None:
    text = shamir.split(b"m" * 32, shares=5, threshold=3)[3].encode()
    mistyped = text[:-1] + ("A" if text[-1] != "A" else "B")
    with pytest.raises(ShareChecksumError, match="Share 4 is mistyped or damaged") as caught:
        shamir.Share.decode(mistyped)
    assert caught.value.index == 4


def test_shares_of_two_splits_cannot_be_combined() -> None:
    first = shamir.split(b"s" * 32, shares=3, threshold=2)
    second = shamir.split(b"s" * 32, shares=3, threshold=2)
    with pytest.raises(ShareMismatchError, match="another split") as caught:
        shamir.combine([first[0], second[1]])
    assert first[0].set_label in str(caught.value) and second[1].set_label in str(caught.value)
    with pytest.raises(ShareMismatchError, match="another split"):
        shamir.combine([first[0], first[1], second[2]])


def test_a_share_given_twice_is_refused() -> None:
    shares = shamir.split(b"s" * 32, shares=3, threshold=2)
    with pytest.raises(ShareMismatchError, match="Share 1 was given twice"):
        shamir.combine([shares[0], shares[0]])


def test_an_extra_share_that_disagrees_is_refused() -> None:
    shares = shamir.split(b"s" * 32, shares=3, threshold=2)
    forged_data = bytes(byte ^ 0x01 for byte in shares[2].data)
    forged = shamir.Share.create(index=3, threshold=2, set_id=shares[2].set_id, data=forged_data)
    assert forged.is_intact()
    with pytest.raises(ShareMismatchError, match="Share 3 does not agree"):
        shamir.combine([shares[0], shares[1], forged])


def test_no_shares_is_refused() -> None:
    with pytest.raises(NotEnoughSharesError, match="No shares"):
        shamir.combine([])


@pytest.mark.parametrize(
    "secret,count,threshold,message",
    [
        (b"k", 3, 1, "at least 2"),
        (b"k", 3, 0, "at least 2"),
        (b"k", 2, 3, "between the threshold"),
        (b"k", 256, 3, "between the threshold"),
        (b"", 3, 2, "non-empty"),
        (b"k", 3, True, "at least 2"),
    ],
)
def test_split_parameters_are_checked(secret: bytes, count: int, threshold: int, message: str) -> None:
    with pytest.raises(ShareError, match=message):
        shamir.split(secret, shares=count, threshold=threshold)


def test_the_largest_split_works() -> None:
    shares = shamir.split(b"\x00\xff" * 16, shares=255, threshold=255)
    assert [share.index for share in shares] == list(range(1, 256))
    assert shamir.combine(shares) == b"\x00\xff" * 16
    assert shamir.Share.decode(shares[-1].encode()) == shares[-1]


def test_repr_shows_no_share_data() -> None:
    share = shamir.split(b"k" * 32, shares=2, threshold=2)[0]
    text = repr(share)
    assert "index=1" in text and "threshold=2" in text
    assert share.data.hex() not in text and repr(share.data) not in text and "checksum" not in text
