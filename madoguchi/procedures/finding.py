"""How residents find a procedure: the one search of the home page and an organization's page, the
browsing by 分類 and ライフイベント, the popular and the new procedures, and the councils' synonym lists.

Folding (fold): NFKC (ＡＢＣ → abc, ｶﾀｶﾅ → カタカナ, U+3000 → space), katakana as hiragana, lower case, control
and format characters dropped. The stored column Procedure.search_text holds two lines, each folded and
without any space:

    line 1: title, title_en and the title's reading (title_reading if staff gave one, else pykakasi's)
    line 2: summary, summary_en and the summary's reading (pykakasi), then the names of its 分類 and
            ライフイベント and their reading (転入 finds a procedure of the event 引越し through a synonym)

so じゅうみんひょう, ジュウミンヒョウ and ｼﾞｭｳﾐﾝﾋｮｳ all find 住民票の写し, and 教室参加 finds 「教室 参加申込」.
A query is folded the same way and split at spaces into words (at most MAX_WORDS); every word must match
(AND), a word matching also when one of its synonyms does (Synonyms). Matches of every word in line 1 (the
title) come before the others; at most SEARCH_LIMIT are shown.

The column is written by Procedure.save() through refresh_search_text(): every write path of a title,
summary, reading, 分類 or ライフイベント (services, the admin, imports, copies, the demo) passes there.

Synonyms (Council.search_synonyms), one rule a line, edited by the council's secretariat:

    スマホ → スマートフォン          one way: a query word containing スマホ also looks for スマートフォン
    スマホ, 携帯 → スマートフォン     several words on either side of the arrow (→, ->, ⇒ or =>)
    転入 = 引越し = 転居             a two-way group: each word also looks for every other
    マイナンバーカード, 個人番号カード   a comma list (、 or ,) is a two-way group too
    # a line starting with # is a comment; blank lines are ignored

The councils whose rules apply: those of the organization searched (and of its prefecture, for the
prefecture's procedures shown on a municipality's page), every council on the home page.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Min, Q, QuerySet, Sum, TextField, Value, When
from django.db.models.functions import Cast, Left, StrIndex
from django.utils import timezone, translation
from django.utils.translation import gettext

from madoguchi.audit import services as audit
from madoguchi.lib import japanese as ja
from madoguchi.organizations.models import Council, Organization
from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS, Procedure

# Results shown for one search; words of a query looked at (the rest are ignored); characters of a query.
SEARCH_LIMIT = 50
MAX_WORDS = 8
MAX_QUERY_LENGTH = 100
# Alternatives of one query word through synonyms (the word itself included): the SQL stays small.
MAX_ALTERNATIVES = 12
# A summary's share of the column (characters of the typed text): a long text is found by its beginning.
MAX_SUMMARY_CHARS = 2000
# The synonym list: lines, and characters of one word.
MAX_SYNONYM_LINES = 500
MAX_SYNONYM_WORD_LENGTH = 50
# Home page: how many popular and new procedures; the popular ones count this many days (JST).
POPULAR_COUNT = 5
POPULAR_DAYS = 30
NEW_COUNT = 5

# Control (Cc), format (Cf: zero-width, bidi), surrogate and private-use characters: they cannot be typed on
# purpose and PostgreSQL refuses NUL.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """`text` folded for the search: NFKC, katakana → hiragana, lower case, Cc/Cf/Cs/Co/Cn dropped.

    Spaces are kept (as the caller needs them: split for a query, removed for the stored column).
    Idempotent: fold(fold(s)) == fold(s).
    """
    text = ja.search_fold(text)
    text = "".join(c for c in text if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    # NFKC of the lower case may differ again (rare letters); once more makes fold idempotent.
    return ja.search_fold(text)


def _squeeze(text: str) -> str:
    return _SPACES.sub("", fold(text))


@functools.cache
def _kakasi():
    import pykakasi

    return pykakasi.kakasi()


def reading(text: str) -> str:
    """The hiragana reading of `text` as pykakasi reads it (住民票 → じゅうみんひょう); "" for ""."""
    if not text:
        return ""
    return "".join(part["hira"] for part in _kakasi().convert(text))


def search_text_of(procedure: Procedure) -> str:
    """The value of Procedure.search_text for `procedure` as it is now (see the module's docstring)."""
    title_reading = procedure.title_reading or reading(procedure.title)
    summary = (procedure.summary or "")[:MAX_SUMMARY_CHARS]
    head = _squeeze(" ".join([procedure.title or "", procedure.title_en or "", title_reading]))
    with translation.override("ja"):
        labels = " ".join(
            str(name)
            for name in [dict(CATEGORIES).get(procedure.category or "", "")]
            + [dict(LIFE_EVENTS).get(event, "") for event in procedure.life_events or []]
        )
    tail = _squeeze(
        " ".join(
            [
                summary,
                (procedure.summary_en or "")[:MAX_SUMMARY_CHARS],
                reading(summary),
                labels,
                reading(labels),
            ]
        )
    )
    return f"{head}\n{tail}"


SEARCH_SOURCE_FIELDS = frozenset(
    {"title", "title_en", "summary", "summary_en", "title_reading", "category", "life_events"}
)


def refresh_search_text(procedure: Procedure, update_fields=None):
    """Set procedure.search_text from its texts; returns the update_fields to save (search_text added
    when any of SEARCH_SOURCE_FIELDS is saved). Called by Procedure.save(), so every write path keeps it."""
    if update_fields is not None:
        update_fields = set(update_fields)
        if not update_fields & SEARCH_SOURCE_FIELDS:
            return update_fields
        update_fields.add("search_text")
    procedure.search_text = search_text_of(procedure)
    return update_fields


# Synonyms ----------------------------------------------------------------------------------------------

_ARROW = re.compile(r"\s*(?:→|->|⇒|=>)\s*")
_COMMA = re.compile(r"\s*[,、，]\s*")


class SynonymError(ValueError):
    """A malformed synonym list; str() is the Japanese message naming the lines."""


@dataclass(frozen=True)
class Synonyms:
    """Folded rules: word → the words it also looks for."""

    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def alternatives(self, word: str) -> list[str]:
        """`word` (folded, no space) and what it also looks for: each rule's word found in it replaced by
        the rule's targets (スマホ教室 → すまーとふぉん教室). At most MAX_ALTERNATIVES; the word first."""
        found = [word]
        for source, targets in self.rules:
            if source and source in word:
                for target in targets:
                    alternative = word.replace(source, target)
                    if alternative and alternative not in found:
                        found.append(alternative)
        return found[:MAX_ALTERNATIVES]


def _words(side: str) -> list[str]:
    return [w for w in (_squeeze(part) for part in _COMMA.split(side)) if w]


def parse_synonyms(text: str) -> Synonyms:
    """Rules of a council's list (format in the module docstring).

    Raises SynonymError naming every malformed line by its number: a line with no arrow, = or comma, an
    arrow with no word on one side, two arrows, a word over MAX_SYNONYM_WORD_LENGTH characters, or more
    than MAX_SYNONYM_LINES lines.
    """
    lines = text.splitlines()
    if len(lines) > MAX_SYNONYM_LINES:
        raise SynonymError(
            gettext("同義語は%(count)d行までにしてください（いま%(lines)d行あります）。")
            % {"count": MAX_SYNONYM_LINES, "lines": len(lines)}
        )
    rules: list[tuple[str, tuple[str, ...]]] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = unicodedata.normalize("NFKC", raw).strip()
        if not line or line.startswith("#"):
            continue
        arrows = _ARROW.findall(line)
        if len(arrows) > 1:
            problems.append(gettext("%(n)d行目：矢印（→）は1行に1つにしてください。") % {"n": number})
            continue
        if arrows:
            left, right = _ARROW.split(line)
            if "=" in left or "=" in right:
                problems.append(
                    gettext("%(n)d行目：矢印（→）と「=」は同じ行に書けません。行を分けてください。")
                    % {"n": number}
                )
                continue
            sources, targets = _words(left), _words(right)
            if not sources or not targets:
                problems.append(
                    gettext(
                        "%(n)d行目：矢印（→）の左右に言葉を書いてください（例：スマホ → スマートフォン）。"
                    )
                    % {"n": number}
                )
                continue
            group = None
        else:
            group = [w for part in line.split("=") for w in _words(part)]
            if ("=" not in line and not _COMMA.search(line)) or len(group) < 2:
                problems.append(
                    gettext(
                        "%(n)d行目：「スマホ → スマートフォン」「スマホ = スマートフォン」"
                        "「スマホ、スマートフォン」のどれかの形で書いてください。"
                    )
                    % {"n": number}
                )
                continue
            sources = targets = group
        if any(len(w) > MAX_SYNONYM_WORD_LENGTH for w in [*sources, *targets]):
            problems.append(
                gettext("%(n)d行目：言葉は%(max)d文字までにしてください。")
                % {"n": number, "max": MAX_SYNONYM_WORD_LENGTH}
            )
            continue
        for source in sources:
            others = tuple(t for t in targets if t != source)
            if others:
                rules.append((source, others))
    if problems:
        raise SynonymError("\n".join(problems))
    return Synonyms(tuple(rules))


def synonyms_of(councils) -> Synonyms:
    """The rules of these councils together; a council whose list no longer parses adds nothing."""
    rules: list[tuple[str, tuple[str, ...]]] = []
    for text in councils.values_list("search_synonyms", flat=True):
        try:
            rules.extend(parse_synonyms(text or "").rules)
        except SynonymError:
            continue
    return Synonyms(tuple(rules))


def _rule_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


@transaction.atomic
def save_search_synonyms(*, council: Council, actor, text: str) -> Council:
    """Replace the council's synonym list with `text` (kept as typed, lines ending in \\n); audited with
    the old and new lists. Raises SynonymError (Japanese, with line numbers) and saves nothing then."""
    text = "\n".join(line.rstrip() for line in ja.remove_control_characters(text).splitlines()).strip("\n")
    parse_synonyms(text)
    council = Council.objects.select_for_update().select_related("secretariat").get(pk=council.pk)
    old = council.search_synonyms
    if old != text:
        council.search_synonyms = text
        council.save(update_fields=["search_synonyms"])
        audit.record(
            organization=council.secretariat,
            actor=actor,
            action="council.search_synonyms",
            obj=council,
            detail={"old": old, "new": text, "rules": _rule_lines(text)},
        )
    return council


# Search and browsing -----------------------------------------------------------------------------------


def published() -> QuerySet[Procedure]:
    """Procedures a resident can open: published, with a form version, of an active organization."""
    return Procedure.objects.filter(
        status=Procedure.Status.PUBLISHED, current_version__isnull=False, organization__is_active=True
    ).select_related("organization", "department")


def query_words(query: str) -> list[str]:
    """The folded words of a resident's query (at most MAX_WORDS, from its first MAX_QUERY_LENGTH chars)."""
    return fold(query[:MAX_QUERY_LENGTH]).split()[:MAX_WORDS]


def organizations_shown(organization: Organization) -> list[Organization]:
    """Whose procedures an organization's page lists: itself, and for a municipality its prefecture."""
    shown = [organization]
    prefecture = organization.prefecture if organization.kind == "municipality" else None
    if prefecture is not None and prefecture.is_active and prefecture.kind == "prefecture":
        shown.append(prefecture)
    return shown


def councils_for(organizations: list[Organization] | None) -> QuerySet[Council]:
    if organizations is None:
        return Council.objects.all()
    return Council.objects.filter(members__in=organizations).distinct()


def search(
    query: str,
    *,
    organizations: list[Organization] | None = None,
    category: str = "",
    event: str = "",
) -> list[Procedure]:
    """Published procedures matching every word of `query` (and the category and life event, when given),
    of `organizations` (None: all). Title matches first, then by organization code and title; at most
    SEARCH_LIMIT. An empty query lists everything in the category or event. Any text is a query: never
    raises for what a resident types.
    """
    procedures = browse(organizations=organizations, category=category, event=event)
    words = query_words(query)
    if not words:
        return list(procedures.order_by("organization__code", "title")[:SEARCH_LIMIT])
    synonyms = synonyms_of(councils_for(organizations))
    procedures = procedures.annotate(
        head=Left("search_text", StrIndex("search_text", Value("\n")), output_field=TextField())
    )
    in_title = Q()
    for word in words:
        alternatives = synonyms.alternatives(word)
        anywhere = Q(organization__name__icontains=word)
        in_head = Q()
        for alternative in alternatives:
            anywhere |= Q(search_text__contains=alternative)
            in_head |= Q(head__contains=alternative)
        procedures = procedures.filter(anywhere)
        in_title &= in_head
    procedures = procedures.annotate(
        rank=Case(When(in_title, then=Value(0)), default=Value(1), output_field=IntegerField())
    )
    return list(procedures.order_by("rank", "organization__code", "title")[:SEARCH_LIMIT])


def browse(
    *, organizations: list[Organization] | None = None, category: str = "", event: str = ""
) -> QuerySet[Procedure]:
    """Published procedures of `organizations` (None: all) in the 分類 `category` and with the life event
    `event` (codes of CATEGORIES and LIFE_EVENTS; an unknown code matches nothing; "" does not filter)."""
    procedures = published()
    if organizations is not None:
        procedures = procedures.filter(organization__in=organizations)
    if category:
        if category not in dict(CATEGORIES):
            return procedures.none()
        procedures = procedures.filter(category=category)
    if event:
        if event not in dict(LIFE_EVENTS):
            return procedures.none()
        # JSON lists as text on both databases (["moving", "birth"]): the quoted code is a whole item.
        procedures = procedures.annotate(events_text=Cast("life_events", TextField())).filter(
            events_text__contains=f'"{event}"'
        )
    return procedures


@dataclass(frozen=True)
class Choice:
    code: str
    label: str
    count: int


def categories_offered(organizations: list[Organization] | None = None) -> list[Choice]:
    """The 分類 with at least one published procedure (of `organizations`), in CATEGORIES' order."""
    counts = dict(
        browse(organizations=organizations)
        .exclude(category="")
        .order_by()
        .values_list("category")
        .annotate(n=Count("pk"))
    )
    return [Choice(code, label, counts[code]) for code, label in CATEGORIES if counts.get(code)]


def life_events_offered(organizations: list[Organization] | None = None) -> list[Choice]:
    """The ライフイベント with at least one published procedure (of `organizations`), in LIFE_EVENTS' order.

    Reads only the life_events column of the published procedures (a few hundred rows)."""
    counts: dict[str, int] = {}
    for events in browse(organizations=organizations).values_list("life_events", flat=True):
        for event in set(events or []) if isinstance(events, list) else ():
            if isinstance(event, str):
                counts[event] = counts.get(event, 0) + 1
    return [Choice(code, label, counts[code]) for code, label in LIFE_EVENTS if counts.get(code)]


def popular(limit: int = POPULAR_COUNT, *, days: int = POPULAR_DAYS) -> list[Procedure]:
    """Published procedures with the most submissions in the last `days` JST days (today included), read
    from stats.DailyCount, most first; ties by title. Procedures with none are not listed."""
    from madoguchi.stats.models import DailyCount

    today = timezone.localdate()
    since = today - timedelta(days=days - 1)
    rows = list(
        DailyCount.objects.filter(
            day__gte=since,
            procedure__in=published().values("pk"),
        )
        .values("procedure")
        .annotate(total=Sum("count"))
        .filter(total__gt=0)
        .order_by("-total", "procedure")[:limit]
    )
    procedures = published().in_bulk([row["procedure"] for row in rows])
    return [procedures[row["procedure"]] for row in rows if row["procedure"] in procedures]


def newest(limit: int = NEW_COUNT) -> list[Procedure]:
    """The published procedures first published most recently (their first form version), newest first."""
    return list(
        published()
        .annotate(first_published=Min("versions__created_at"))
        .order_by(F("first_published").desc(nulls_last=True), "-pk")[:limit]
    )
