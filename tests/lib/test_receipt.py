import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.lib.receipt import (
    DAMM_TABLE,
    INQUIRY_ALPHABET,
    damm_check_digit,
    format_inquiry_code,
    format_receipt_number,
    inquiry_code_for,
    is_valid_damm,
    new_receipt_number,
    parse_inquiry_code,
    parse_receipt_number,
)


def test_damm_table_is_a_quasigroup_with_zero_diagonal() -> None:
    for i, row in enumerate(DAMM_TABLE):
        assert sorted(row) == list(range(10))
        assert sorted(r[i] for r in DAMM_TABLE) == list(range(10))
        assert row[i] == 0


@pytest.mark.parametrize(
    ("digits", "check"), [("572", "4"), ("", "0"), ("0", "0"), ("1", "3"), ("482103957", "6")]
)
def test_damm_check_digit(digits: str, check: str) -> None:
    assert damm_check_digit(digits) == check
    assert is_valid_damm(digits + check)


@pytest.mark.parametrize("bad", ["57a", "５７２", "-1", " 1"])
def test_damm_check_digit_needs_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        damm_check_digit(bad)


@pytest.mark.parametrize("s", ["", "5723", "5742", "abc", "５７２４"])
def test_is_valid_damm_false(s: str) -> None:
    assert not is_valid_damm(s)


def test_new_receipt_number_shape() -> None:
    for _ in range(200):
        n = new_receipt_number()
        assert re.fullmatch(r"[1-9][0-9]{9}", n)
        assert is_valid_damm(n)
        assert parse_receipt_number(n) == n


def test_new_receipt_number_with_seeded_rng() -> None:
    a = new_receipt_number(random.Random(1))
    b = new_receipt_number(random.Random(1))
    assert a == b
    assert is_valid_damm(a)


def test_format_receipt_number() -> None:
    assert format_receipt_number("4821039576") == "4821-0395-76"
    with pytest.raises(ValueError):
        format_receipt_number("4821-0395-76")
    with pytest.raises(ValueError):
        format_receipt_number("482103957")


@pytest.mark.parametrize(
    "typed",
    [
        "4821039576",
        "4821-0395-76",
        "４８２１－０３９５－７６",
        "4821ー0395ー76",
        "4821−0395−76",
        " 4821 0395 76　",
        "48 21-03　95 7 6",
        "4-8-2-1-0-3-9-5-7-6",
    ],
)
def test_parse_receipt_number_accepted(typed: str) -> None:
    assert parse_receipt_number(typed) == "4821039576"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "4821039575",  # wrong check digit
        "4821039567",  # check digit transposed
        "482103957",  # too short
        "48210395760",  # too long
        "4821O39576",  # letter O for zero
        "4821/0395/76",
        "٤٨٢١٠٣٩٥٧٦",
        "abcdefghij",
    ],
)
def test_parse_receipt_number_rejected(typed: str) -> None:
    assert parse_receipt_number(typed) is None


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False))
def test_every_single_error_and_adjacent_transposition_is_caught(rng: random.Random) -> None:
    n = new_receipt_number(rng)
    assert parse_receipt_number(n) == n
    for i, original in enumerate(n):
        for d in "0123456789":
            if d != original:
                assert parse_receipt_number(n[:i] + d + n[i + 1 :]) is None
    for i in range(len(n) - 1):
        if n[i] != n[i + 1]:
            assert parse_receipt_number(n[:i] + n[i + 1] + n[i] + n[i + 2 :]) is None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_functions_never_raise(s: str) -> None:
    r = parse_receipt_number(s)
    assert r is None or (len(r) == 10 and is_valid_damm(r))
    c = parse_inquiry_code(s)
    assert c is None or (len(c) == 8 and set(c) <= set(INQUIRY_ALPHABET))


def test_inquiry_alphabet_has_no_look_alikes() -> None:
    assert len(INQUIRY_ALPHABET) == len(set(INQUIRY_ALPHABET)) == 32
    assert not set("IO01") & set(INQUIRY_ALPHABET)


def test_inquiry_code_is_the_same_for_a_token_and_differs_between_tokens_and_keys(settings) -> None:
    codes = {inquiry_code_for(f"token-{i}") for i in range(2000)}
    assert len(codes) == 2000
    for c in codes:
        assert len(c) == 8
        assert set(c) <= set(INQUIRY_ALPHABET)
        assert parse_inquiry_code(format_inquiry_code(c)) == c
    assert inquiry_code_for("token-1") == inquiry_code_for("token-1")
    # Every symbol of the alphabet turns up in every position: all 40 bits are used.
    for position in range(8):
        assert {c[position] for c in codes} == set(INQUIRY_ALPHABET)
    # Keyed: without the server's secret key the token alone does not give the code.
    before = inquiry_code_for("token-1")
    settings.INQUIRY_CODE_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    assert inquiry_code_for("token-1") != before


def test_format_inquiry_code() -> None:
    assert format_inquiry_code("ABCDEFGH") == "ABCD-EFGH"
    with pytest.raises(ValueError):
        format_inquiry_code("ABCD")


@pytest.mark.parametrize(
    "typed",
    [
        "ABCDEFGH",
        "ABCD-EFGH",
        "abcd-efgh",
        "ＡＢＣＤ－ＥＦＧＨ",
        "ａｂｃｄ ｅｆｇｈ",
        " AB CD ー EF GH　",
        "abcdEFGH",
    ],
)
def test_parse_inquiry_code_accepted(typed: str) -> None:
    assert parse_inquiry_code(typed) == "ABCDEFGH"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCDEFG",
        "ABCDEFGHJ",
        "ABCDEFGO",  # O is not in the alphabet
        "ABCDEFG0",
        "ABCDEFGI",
        "ABCDEFG1",
        "ABCDEFG!",
        "ABCDEFſ2",  # 'ſ'.upper() == 'S': must not sneak in
        "ABCDEFGß",
        "ABCD_EFGH",
    ],
)
def test_parse_inquiry_code_rejected(typed: str) -> None:
    assert parse_inquiry_code(typed) is None


@settings(max_examples=200, deadline=None)
@given(token=st.text(min_size=1, max_size=80), key=st.text(min_size=1, max_size=60))
def test_the_inquiry_code_is_djangos_salted_hmac_of_the_stored_token(token: str, key: str) -> None:
    """inquiry_code_for works the HMAC's key out once per server key; the code stays the one derived from
    Django's salted_hmac, so codes given to residents before keep working."""
    from django.test import override_settings
    from django.utils.crypto import salted_hmac

    from madoguchi.lib.receipt import INQUIRY_ALPHABET, inquiry_code_for

    with override_settings(INQUIRY_CODE_KEY=key):
        digest = int.from_bytes(
            salted_hmac("madoguchi.inquiry-code", token, secret=key, algorithm="sha256").digest()[:5]
        )
        expected = "".join(INQUIRY_ALPHABET[(digest >> (5 * i)) & 31] for i in range(8))
        assert inquiry_code_for(token) == expected


def test_receipt_numbers_are_spread_over_every_first_digit_and_never_start_with_0() -> None:
    firsts = {new_receipt_number()[0] for _ in range(2000)}
    assert firsts == set("123456789")
