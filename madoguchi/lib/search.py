"""Finding a resident's case in the back office: what a submission is found by, and the query folded alike.

Staff see a name exactly as it was typed (髙, 﨑, 𠮷 untouched): only the search column is folded, and
the query is folded the same way, so that a clerk on the phone finds 鳥取花子 whatever they type:

- NFKC (ＡＢＣ → abc, ｶﾅ → カナ), katakana as hiragana, casefold, every space removed;
- a few old and variant kanji as their common form (髙 → 高, 﨑 → 崎, 𠮷 → 吉, 邉 → 辺 …), so 高橋 finds 髙橋;
- phone numbers as digits only (0857-20-3111 → 0857203111), and a query of digits, hyphens, spaces and
  brackets alike, with Japan's country code read as residents' input is (+81 857-20-3111 → 0857203111);
- control and format characters removed (they cannot be typed on purpose, and PostgreSQL refuses NUL).

The stored text is one token per answer, each after a single space (the column starts with one); a
name or kana also gives its given name (and any later part) as a token of its own. A folded query holds
no space, so it never matches across two answers. A query of one or two characters is looked for at the
start of a token only (search_condition: " 佐藤" rather than "佐藤"), which a trigram index can answer
(pg_trgm takes the space as the start of a word); longer ones anywhere. No model here (lib/ holds none):
the caller passes the form's fields and the answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import jaconv

from madoguchi.lib.japanese import DASHES, national_phone_text, to_halfwidth_ascii

# A query longer than this is refused with a message (names, phone numbers and e-mail addresses are far
# shorter; a pasted page is not a search).
MAX_QUERY_LENGTH = 100
# One answer's share of the search column, and the whole column (characters): a long text is found by
# its beginning; the trigram index stays small.
MAX_ANSWER_CHARS = 500
MAX_SEARCH_CHARS = 4000
# The shown name and kana columns (characters), as Submission.applicant_name and applicant_kana.
MAX_NAME_CHARS = 200

# Old and variant forms of kanji common in family names → the form a clerk types. Search only.
_VARIANTS = str.maketrans(
    {
        "髙": "高",
        "﨑": "崎",
        "嵜": "崎",
        "𠮷": "吉",
        "邉": "辺",
        "邊": "辺",
        "齋": "斎",
        "齊": "斉",
        "濵": "浜",
        "濱": "浜",
        "澤": "沢",
        "櫻": "桜",
        "廣": "広",
        "國": "国",
        "眞": "真",
        "德": "徳",
        "冨": "富",
        "槗": "橋",
        "瀨": "瀬",
        "曻": "昇",
    }
)
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACE_RE = re.compile(r"\s+")
_PHONE_QUERY_RE = re.compile(r"[0-9()\-]+", re.ASCII)


def strip_controls(text: str) -> str:
    """The text without control, format, surrogate, private-use or unassigned characters
    (NUL, tabs and line breaks included: a search box holds one line)."""
    return "".join(c for c in text if unicodedata.category(c) not in _CONTROL_CATEGORIES)


def fold(text: str) -> str:
    """Text as the search column holds it: NFKC, variant kanji in their common form, katakana as
    hiragana, casefolded, without spaces, control or format characters. str → str, never raises."""
    t = strip_controls(text)
    # Until nothing changes (twice at most in practice): NFKC may yield a space before a combining mark
    # (¸ → " ̧") that composes with the letter before it once the space is gone, and casefold may yield
    # what NFKC writes otherwise.
    for _attempt in range(4):
        folded = unicodedata.normalize("NFKC", t).translate(_VARIANTS)
        folded = _SPACE_RE.sub("", jaconv.kata2hira(folded).casefold())
        if folded == t:
            break
        t = folded
    return t


def phone_digits(text: str) -> str:
    """Only the digits of a phone number (full-width digits read as ASCII): '０８５７－２０' → '085720'."""
    return "".join(c for c in to_halfwidth_ascii(text) if c.isascii() and c.isdigit())


def fold_query(text: str) -> str:
    """The query as it is compared with the search column (a substring of it).

    A query of digits with hyphens, dash look-alikes, spaces or brackets only (a phone number), perhaps
    after '+81' (read as the trunk prefix 0, as a resident's input is), keeps its digits; anything else
    is folded as the column is (fold()). Returns "" for a query with nothing left to look for. The
    caller checks the length first (MAX_QUERY_LENGTH).
    """
    cleaned = strip_controls(text)
    ascii_text = "".join("-" if c in DASHES else c for c in to_halfwidth_ascii(cleaned))
    ascii_text = _SPACE_RE.sub("", national_phone_text(ascii_text.strip()) or ascii_text)
    if ascii_text and _PHONE_QUERY_RE.fullmatch(ascii_text) and any(c.isdigit() for c in ascii_text):
        return phone_digits(ascii_text)
    return fold(cleaned)


def _value_tokens(kind: str, value: Any) -> Iterable[str]:
    """The searchable tokens of one answer (unfolded; folded by the caller), by the field's type."""
    if value is None or value == "" or value == []:
        return
    if kind == "name" and isinstance(value, dict):
        yield f"{value.get('family', '')}{value.get('given', '')}"
        yield str(value.get("given", ""))  # 花子 is found at a token's start too
    elif kind == "furigana" and isinstance(value, str):
        parts = value.split()
        yield "".join(parts)
        yield from parts[1:]
    elif kind == "phone":
        yield phone_digits(str(value))
    elif kind == "address" and isinstance(value, dict):
        yield phone_digits(str(value.get("postal_code", "")))
        yield str(value.get("address", ""))
    elif kind == "multiple_choice" and isinstance(value, list):
        yield from (str(v) for v in value)
    elif kind in ("file", "consent", "heading", "group"):
        return
    elif isinstance(value, str | int | float):
        yield str(value)


def search_text(fields: Iterable[Any], answers: dict[str, Any]) -> str:
    """The search column of a submission: each answer's folded tokens, each after a single space.

    fields: the form's fields in order (FieldSpec: .key, .type, and .fields for a group); answers: the
    stored answers (submissions.answers). Names, kana, e-mail and the words of text and choice answers
    are folded (fold()); phone numbers and postal codes are digits only; files and consents are left out.
    Each answer is cut to MAX_ANSWER_CHARS characters, the whole to MAX_SEARCH_CHARS.
    """
    tokens: list[str] = []
    for field in fields:
        value = answers.get(field.key)
        if field.type == "group":
            for item in value if isinstance(value, list) else []:
                if isinstance(item, dict):
                    tokens.append(search_text(field.fields, item))
            continue
        for token in _value_tokens(field.type, value):
            folded = fold(token[: MAX_ANSWER_CHARS * 2])[:MAX_ANSWER_CHARS]
            if folded:
                tokens.append(" " + folded)
    return "".join(tokens)[:MAX_SEARCH_CHARS].rstrip()


SHORT_QUERY = 3  # characters: shorter folded queries match a token's start only


def search_condition(query: str) -> str:
    """What the search column must contain for a folded query (fold_query()): the query itself, or for
    one of one or two characters, a space and the query (the start of a token: of a family or given
    name, a kana, an address, an e-mail). "" stays "" (no search)."""
    return f" {query}" if 0 < len(query) < SHORT_QUERY else query


def applicant_columns(fields: Iterable[Any], answers: dict[str, Any]) -> tuple[str, str]:
    """(name, kana) as staff see them in the inbox: the first name field's answer as 姓　名, and the first
    furigana field's answer, exactly as stored ("" where the form has no such field or no answer)."""
    name = kana = None
    for field in fields:
        if field.type == "name" and name is None:
            value = answers.get(field.key)
            name = (
                f"{value.get('family', '')}\u3000{value.get('given', '')}".strip("\u3000")
                if isinstance(value, dict)
                else ""
            )
        elif field.type == "furigana" and kana is None:
            value = answers.get(field.key)
            kana = value if isinstance(value, str) else ""
    return (name or "")[:MAX_NAME_CHARS], (kana or "")[:MAX_NAME_CHARS]
