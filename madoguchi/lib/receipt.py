"""受付番号 (receipt numbers) and 問い合わせコード (inquiry codes).

A receipt number is read over the phone, so it is digits only, with a Damm check digit: the
Damm quasigroup catches every single-digit error and every adjacent transposition. It is not a
secret. Uniqueness is the caller's job (unique constraint + retry on collision).

An inquiry code is the secret a resident uses to look up an application: 8 characters from an
alphabet without the look-alikes I/O/0/1 (32 symbols, 40 bits). It is derived from the submission's
secret token with a keyed hash, so every step that knows the token (the completion page after a double
click, the worker writing the receipt e-mail) gives the same code, and the code itself is never stored.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from typing import Protocol

from madoguchi.lib.japanese import normalize_dashes, to_halfwidth_ascii

# The standard weakly totally anti-symmetric quasigroup of order 10 (Damm 2004).
DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

RECEIPT_LENGTH = 10
INQUIRY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INQUIRY_LENGTH = 8

_ASCII_DIGITS_RE = re.compile(r"[0-9]*", re.ASCII)
_SEPARATORS_RE = re.compile(r"[\s\-]+")


class _Chooser(Protocol):
    def randrange(self, start: int, stop: int, /) -> int: ...


def _damm_interim(digits: str) -> int:
    interim = 0
    for c in digits:
        interim = DAMM_TABLE[interim][ord(c) - 48]
    return interim


def damm_check_digit(digits: str) -> str:
    """The Damm check digit of a string of ASCII digits (ValueError otherwise)."""
    if not _ASCII_DIGITS_RE.fullmatch(digits):
        raise ValueError(f"digits only, got {digits!r}")
    return str(_damm_interim(digits))


def is_valid_damm(digits: str) -> bool:
    """True if a non-empty string of ASCII digits ends with its correct Damm check digit."""
    return bool(digits) and _ASCII_DIGITS_RE.fullmatch(digits) is not None and _damm_interim(digits) == 0


_FIRST_BODY = 10 ** (RECEIPT_LENGTH - 2)  # 100000000: the smallest 9 digits whose first is not 0


def new_receipt_number(rng: _Chooser | None = None) -> str:
    """9 random digits (the first not 0) and a Damm check digit, e.g. '4821039576'.

    The 9 digits are one number drawn uniformly from 100000000–999999999 (one call to the system's random
    source; ``rng``, anything with ``randrange()``, e.g. a ``random.Random`` in tests, instead).
    """
    if rng is None:
        body = str(_FIRST_BODY + secrets.randbelow(9 * _FIRST_BODY))
    else:
        body = str(rng.randrange(_FIRST_BODY, 10 * _FIRST_BODY))
    return body + str(_damm_interim(body))


def format_receipt_number(n: str) -> str:
    """'4821039576' → '4821-0395-76'."""
    if len(n) != RECEIPT_LENGTH or not _ASCII_DIGITS_RE.fullmatch(n):
        raise ValueError(f"a receipt number is {RECEIPT_LENGTH} digits, got {n!r}")
    return f"{n[:4]}-{n[4:8]}-{n[8:]}"


def parse_receipt_number(s: str) -> str | None:
    """The bare 10 digits, or None unless length and check digit are right.

    Full-width digits, dash look-alikes and spaces anywhere are accepted.
    """
    t = _SEPARATORS_RE.sub("", normalize_dashes(to_halfwidth_ascii(s)))
    if len(t) != RECEIPT_LENGTH or not is_valid_damm(t):
        return None
    return t


def stored_token(token: str) -> str:
    """What Submission.token holds for an application's token (the idempotency key of the final submit,
    kept in the resident's page, session and completion cookie): its SHA-256 as 64 hex characters, so a
    copy of the database does not give the token itself. The token is random (24 bytes, secrets), so no key
    is needed. Rows written before tokens were hashed hold the token itself (32 characters, never 64 hex)."""
    return hashlib.sha256(b"madoguchi-submit:" + token.encode()).hexdigest()


def inquiry_code_for(token: str) -> str:
    """The inquiry code of a submission from its stored token (Submission.token, stored_token() of the
    application's token): 40 bits of an HMAC keyed by the server's INQUIRY_CODE_KEY, so neither the token nor
    a copy of the database gives it away without the key; derived from what is stored, so that
    「問い合わせ番号を忘れた方」 can send it again."""
    from django.conf import settings

    # Django's salted_hmac("madoguchi.inquiry-code", token, secret=key, algorithm="sha256"), with its
    # derived key worked out once per key (a test checks the two agree).
    mac = hmac.new(_inquiry_key(settings.INQUIRY_CODE_KEY), token.encode(), hashlib.sha256)
    digest = int.from_bytes(mac.digest()[:5])
    return "".join([INQUIRY_ALPHABET[(digest >> shift) & 31] for shift in _INQUIRY_SHIFTS])


_INQUIRY_SHIFTS = tuple(5 * i for i in range(INQUIRY_LENGTH))


@functools.lru_cache(maxsize=4)
def _inquiry_key(secret: str | bytes) -> bytes:
    return hashlib.sha256(
        b"madoguchi.inquiry-code" + (secret if isinstance(secret, bytes) else secret.encode())
    ).digest()


def format_inquiry_code(c: str) -> str:
    """'ABCDEFGH' → 'ABCD-EFGH'."""
    if len(c) != INQUIRY_LENGTH:
        raise ValueError(f"an inquiry code is {INQUIRY_LENGTH} characters, got {c!r}")
    return f"{c[:4]}-{c[4:]}"


def parse_inquiry_code(s: str) -> str | None:
    """The bare upper-case code, or None.

    Lower case, full-width, spaces and hyphens are accepted; a character outside the alphabet
    (including the excluded look-alikes O, I, 0, 1) makes it invalid rather than being guessed.
    """
    t = _SEPARATORS_RE.sub("", normalize_dashes(to_halfwidth_ascii(s)))
    # isascii() first: str.upper() turns e.g. 'ſ' into 'S' and 'ß' into 'SS'.
    if not t.isascii():
        return None
    t = t.upper()
    if len(t) != INQUIRY_LENGTH or any(c not in INQUIRY_ALPHABET for c in t):
        return None
    return t
