"""Realistic data at scale for benchmarks and load tests: organizations, a council, procedures of every kind
and submissions with every derived row as the services write them (`manage.py seed_load`, bench/).

The same seed gives the same data on the same empty database. Organizations come from the bundled
全国地方公共団体コード list (organizations/data/local-government-codes.csv, 1,788 rows; 鳥取県 and its
municipalities first). Procedures are made through procedures.services (validated and published as an
editor would). Submissions are written in bulk (PostgreSQL: COPY; otherwise bulk_create in batches) with:

- answers as a resident types them: names of common families and given names with old forms (髙橋,
  山﨑, 𠮷田, 濵田…), kana in hiragana or katakana, phone numbers, e-mail addresses of example.jp
  (RFC 2606), dates of birth, addresses;
- the inbox's name, kana and search columns from lib/search.py (applicant_columns, search_text), the
  receipt number with its Damm check digit (lib/receipt.py), the inquiry code's hash from the token;
- arrivals uniform over the last `years` 年度 (JST) up to now, statuses each kind's services allow;
- derived rows recounted in SQL from the rows written, for the procedures seeded: the history
  (StatusChange: the resident's 受付 and, for a case that moved, the move to its status), the daily counts
  (stats.DailyCount and MonthlyCount, by JST day and month with the 年度) and the counts by status
  (stats.StatusCount).

Signups are seeded without a capacity (a full class would refuse the rest): their seats_taken stays 0,
as the services leave it for a procedure without 定員.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from django.db import connection, transaction
from django.utils import timezone

from madoguchi.lib import envelope, tenancy
from madoguchi.lib.japanese import fiscal_year
from madoguchi.lib.receipt import damm_check_digit, inquiry_code_for
from madoguchi.lib.search import MAX_SEARCH_CHARS, applicant_columns, phone_digits, search_text
from madoguchi.lib.timeutil import JST
from madoguchi.organizations.models import Council, CouncilMembership, Department, Organization
from madoguchi.organizations.services import read_codes
from madoguchi.procedures.models import Procedure
from madoguchi.procedures.services import save_form_version, set_procedure_status
from madoguchi.stats import counts
from madoguchi.stats.models import DailyCount, MonthlyCount, StatusCount
from madoguchi.submissions.answers import stored_form
from madoguchi.submissions.models import Status, StatusChange, Submission

SEED_COUNCIL = "負荷試験用協議会"
TOKEN_PREFIX = "seed-"  # noqa: S105 -- the start of a seeded submission's token, not a secret
BATCH = 2000  # rows per bulk_create (SQLite's limit of variables is far above 2,000 x 19)

FAMILY = [
    ("佐藤", "さとう"), ("鈴木", "すずき"), ("高橋", "たかはし"), ("髙橋", "たかはし"), ("田中", "たなか"),
    ("伊藤", "いとう"), ("渡辺", "わたなべ"), ("渡邉", "わたなべ"), ("山本", "やまもと"), ("中村", "なかむら"),
    ("小林", "こばやし"), ("加藤", "かとう"), ("吉田", "よしだ"), ("𠮷田", "よしだ"), ("山田", "やまだ"),
    ("佐々木", "ささき"), ("山口", "やまぐち"), ("松本", "まつもと"), ("井上", "いのうえ"), ("木村", "きむら"),
    ("林", "はやし"), ("斎藤", "さいとう"), ("齋藤", "さいとう"), ("清水", "しみず"), ("山崎", "やまざき"),
    ("山﨑", "やまざき"), ("森", "もり"), ("池田", "いけだ"), ("橋本", "はしもと"), ("阿部", "あべ"),
    ("石川", "いしかわ"), ("前田", "まえだ"), ("藤田", "ふじた"), ("小川", "おがわ"), ("岡田", "おかだ"),
    ("後藤", "ごとう"), ("長谷川", "はせがわ"), ("村上", "むらかみ"), ("近藤", "こんどう"), ("石井", "いしい"),
    ("坂本", "さかもと"), ("遠藤", "えんどう"), ("青木", "あおき"), ("藤井", "ふじい"), ("西村", "にしむら"),
    ("福田", "ふくだ"), ("太田", "おおた"), ("三浦", "みうら"), ("岡本", "おかもと"), ("松田", "まつだ"),
    ("中川", "なかがわ"), ("米原", "よねはら"), ("浜田", "はまだ"), ("濵田", "はまだ"), ("谷口", "たにぐち"),
]  # fmt: skip
GIVEN = [
    ("花子", "はなこ"), ("太郎", "たろう"), ("一郎", "いちろう"), ("美咲", "みさき"), ("翔太", "しょうた"),
    ("陽菜", "ひな"), ("蓮", "れん"), ("結衣", "ゆい"), ("大翔", "ひろと"), ("さくら", "さくら"),
    ("健太", "けんた"), ("葵", "あおい"), ("悠斗", "ゆうと"), ("凛", "りん"), ("優子", "ゆうこ"),
    ("誠", "まこと"), ("恵子", "けいこ"), ("浩二", "こうじ"), ("由美", "ゆみ"), ("和夫", "かずお"),
    ("幸子", "さちこ"), ("修", "おさむ"), ("明美", "あけみ"), ("隆", "たかし"), ("京子", "きょうこ"),
    ("直樹", "なおき"), ("真由美", "まゆみ"), ("稔", "みのる"), ("智子", "ともこ"), ("拓也", "たくや"),
]  # fmt: skip
# The kana above in Hepburn romaji, for e-mail addresses as residents make them (hanako.sato12@…).
ROMAJI = {
    "さとう": "sato", "すずき": "suzuki", "たかはし": "takahashi", "たなか": "tanaka", "いとう": "ito",
    "わたなべ": "watanabe", "やまもと": "yamamoto", "なかむら": "nakamura", "こばやし": "kobayashi",
    "かとう": "kato", "よしだ": "yoshida", "やまだ": "yamada", "ささき": "sasaki", "やまぐち": "yamaguchi",
    "まつもと": "matsumoto", "いのうえ": "inoue", "きむら": "kimura", "はやし": "hayashi", "さいとう": "saito",
    "しみず": "shimizu", "やまざき": "yamazaki", "もり": "mori", "いけだ": "ikeda", "はしもと": "hashimoto",
    "あべ": "abe", "いしかわ": "ishikawa", "まえだ": "maeda", "ふじた": "fujita", "おがわ": "ogawa",
    "おかだ": "okada", "ごとう": "goto", "はせがわ": "hasegawa", "むらかみ": "murakami", "こんどう": "kondo",
    "いしい": "ishii", "さかもと": "sakamoto", "えんどう": "endo", "あおき": "aoki", "ふじい": "fujii",
    "にしむら": "nishimura", "ふくだ": "fukuda", "おおた": "ota", "みうら": "miura", "おかもと": "okamoto",
    "まつだ": "matsuda", "なかがわ": "nakagawa", "よねはら": "yonehara", "はまだ": "hamada",
    "たにぐち": "taniguchi", "はなこ": "hanako", "たろう": "taro", "いちろう": "ichiro", "みさき": "misaki",
    "しょうた": "shota", "ひな": "hina", "れん": "ren", "ゆい": "yui", "ひろと": "hiroto", "さくら": "sakura",
    "けんた": "kenta", "あおい": "aoi", "ゆうと": "yuto", "りん": "rin", "ゆうこ": "yuko", "まこと": "makoto",
    "けいこ": "keiko", "こうじ": "koji", "ゆみ": "yumi", "かずお": "kazuo", "さちこ": "sachiko",
    "おさむ": "osamu", "あけみ": "akemi", "たかし": "takashi", "きょうこ": "kyoko", "なおき": "naoki",
    "まゆみ": "mayumi", "みのる": "minoru", "ともこ": "tomoko", "たくや": "takuya",
}  # fmt: skip
# Reserved example domains (RFC 2606 and .example.jp style) as the providers residents use.
DOMAINS = ["example.ne.jp", "example.co.jp", "example.com", "example.jp", "example.net", "example.org"]
TOWNS = ["栄町", "本町", "末広町", "幸町", "元町", "緑町", "東町", "西町", "旭町", "若葉台"]
_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}

NAME = {"key": "name", "type": "name", "label": "氏名", "required": True}
FURIGANA = {"key": "furigana", "type": "furigana", "label": "ふりがな", "required": True}
PHONE = {"key": "phone", "type": "phone", "label": "電話番号", "required": True}
EMAIL = {"key": "email", "type": "email", "label": "メールアドレス"}
SCHEMAS: dict[str, tuple[str, dict]] = {
    Procedure.Kind.APPLICATION: ("住民票の写しの郵送請求", {"email_field": "email", "fields": [
        NAME, FURIGANA,
        {"key": "birth_date", "type": "date", "label": "生年月日", "required": True, "past_only": True},
        {"key": "address", "type": "address", "label": "住所", "required": True},
        PHONE, EMAIL,
        {"key": "use", "type": "dropdown", "label": "使いみち", "required": True,
         "options": ["年金の手続", "就職", "自動車の登録", "その他"]},
    ]}),
    Procedure.Kind.NOTIFICATION: ("犬の登録事項変更届", {"email_field": "email", "fields": [
        NAME, FURIGANA, PHONE, EMAIL,
        {"key": "change", "type": "single_choice", "label": "変更の内容", "required": True,
         "options": ["住所の変更", "飼い主の変更", "死亡"]},
        {"key": "changed_on", "type": "date", "label": "変更日", "required": True, "past_only": True},
    ]}),
    Procedure.Kind.SURVEY: ("電子申請サービス利用者アンケート", {"fields": [
        {"key": "satisfaction", "type": "single_choice", "label": "使いやすさ", "required": True,
         "options": ["使いやすい", "どちらかといえば使いやすい", "どちらかといえば使いにくい", "使いにくい"]},
        {"key": "age", "type": "dropdown", "label": "年代",
         "options": ["10代", "20代", "30代", "40代", "50代", "60代", "70代以上"]},
        {"key": "comment", "type": "long_text", "label": "ご意見・ご要望", "max_length": 2000},
    ]}),
    Procedure.Kind.SIGNUP: ("スマートフォン教室 参加申込", {"email_field": "email", "fields": [
        NAME, FURIGANA, PHONE, EMAIL,
        {"key": "session", "type": "single_choice", "label": "希望する回", "required": True,
         "options": ["午前の回", "午後の回"]},
    ]}),
}  # fmt: skip
# Share of the submissions each kind receives, and the statuses a year of cases leaves (what each kind's
# transitions in submissions/services.py allow: a survey answer is never returned, rejected or withdrawn).
KIND_WEIGHTS = {
    Procedure.Kind.APPLICATION: 50,
    Procedure.Kind.NOTIFICATION: 25,
    Procedure.Kind.SURVEY: 15,
    Procedure.Kind.SIGNUP: 10,
}
STATUSES = {
    Procedure.Kind.APPLICATION: ["completed"] * 12 + ["received"] * 3 + ["in_review"] * 2
    + ["returned", "rejected", "withdrawn"],
    Procedure.Kind.NOTIFICATION: ["completed"] * 14 + ["received"] * 3 + ["in_review", "returned", "withdrawn"],
    Procedure.Kind.SURVEY: ["completed"] * 10 + ["received"] * 8 + ["in_review"] * 2,
    Procedure.Kind.SIGNUP: ["completed"] * 14 + ["received"] * 4 + ["withdrawn"] * 2,
}  # fmt: skip
COLUMNS = [
    "organization_id", "procedure_id", "form_version_id", "receipt_number", "inquiry_code_hash", "token",
    "status", "submitted_at", "updated_at", "answers_data", "applicant_email", "assignee_id", "language",
    "correction_deadline", "applicant_name", "applicant_kana", "search_text", "duplicate_key",
]  # fmt: skip


@dataclass
class SeedResult:
    """What seed_load made: organization and procedure ids (procedures in the order submissions were
    spread over them), the council's id, submissions written, and seconds of each step."""

    organization_ids: list[int]
    procedure_ids: list[int]
    council_id: int
    submissions: int
    timings: dict[str, float] = field(default_factory=dict)


def seed_load(
    *,
    submissions: int,
    organizations: int | None = None,
    seed: int = 2026,
    years: int = 3,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeedResult:
    """Seed `organizations` organizations (None: all 1,788), a council of them, two departments and one
    procedure of each kind per organization, and `submissions` submissions spread over them (larger
    organizations get more), arriving over the last `years` 年度 up to `now` (aware, UTC stored; default
    the present). Idempotent for the organizations, council, departments and procedures (found again by
    code, name and title); submissions are added, numbered after those already seeded.

    Raises ValueError for a negative count or an organization count outside 1 to 1,788.
    """
    if submissions < 0:
        raise ValueError("submissions must be 0 or more")
    say = progress or (lambda _message: None)
    now = now or timezone.now()
    timings: dict[str, float] = {}
    began = time.perf_counter()
    with transaction.atomic():
        orgs = seed_organizations(organizations)
        council = seed_council(orgs)
        procedures = seed_procedures(orgs)
    timings["organizations and procedures"] = time.perf_counter() - began
    say(
        f"{len(orgs):,} organizations, {len(procedures):,} procedures: {timings['organizations and procedures']:.1f} s"
    )
    began = time.perf_counter()
    written = write_submissions(procedures, submissions, seed=seed, years=years, now=now)
    timings["submissions"] = time.perf_counter() - began
    say(f"{written:,} submissions: {timings['submissions']:.1f} s")
    began = time.perf_counter()
    rebuild_derived([p.pk for p in procedures])
    if connection.vendor == "postgresql" and written:
        # The planner's statistics for the rows just written (autovacuum would take its time): the pages
        # measured next are planned as they would be on a database that has grown to this size.
        with connection.cursor() as cursor:
            for model in (Submission, StatusChange, DailyCount, MonthlyCount, StatusCount):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
    timings["history and counts"] = time.perf_counter() - began
    say(f"history, daily and status counts: {timings['history and counts']:.1f} s")
    return SeedResult(
        organization_ids=[o.pk for o in orgs],
        procedure_ids=[p.pk for p in procedures],
        council_id=council.pk,
        submissions=written,
        timings=timings,
    )


def seed_organizations(count: int | None) -> list[Organization]:
    """The first `count` organizations of the bundled list (鳥取県 and its municipalities first, then each
    prefecture followed by its municipalities by code), made where missing; in that order."""
    rows = sorted(
        read_codes(),
        key=lambda r: (r["code"][:2] != "31", r["code"][:2], r["kind"] != "prefecture", r["code"]),
    )
    if count is not None:
        if not 1 <= count <= len(rows):
            raise ValueError(f"organizations must be between 1 and {len(rows)}")
        rows = rows[:count]
    existing = {o.code: o for o in Organization.objects.filter(code__in=[r["code"] for r in rows])}
    for kind in ("prefecture", "municipality"):
        missing = [r for r in rows if r["kind"] == kind and r["code"] not in existing]
        parents = {o.code[:2]: o for o in existing.values() if o.kind == "prefecture"}
        made = Organization.objects.bulk_create(
            Organization(
                code=r["code"],
                kind=r["kind"],
                name=r["name"],
                name_kana=r["name_kana"],
                prefecture=parents.get(r["code"][:2]) if kind == "municipality" else None,
            )
            for r in missing
        )
        if connection.features.can_return_rows_from_bulk_insert:
            existing.update((o.code, o) for o in made)
        else:
            existing.update(
                (o.code, o) for o in Organization.objects.filter(code__in=[r["code"] for r in missing])
            )
    return [existing[r["code"]] for r in rows]


def seed_council(orgs: Sequence[Organization]) -> Council:
    """The council of all seeded organizations, the first (a prefecture) as its secretariat."""
    council, _ = Council.objects.get_or_create(name=SEED_COUNCIL, defaults={"secretariat": orgs[0]})
    members = set(CouncilMembership.objects.filter(council=council).values_list("organization_id", flat=True))
    CouncilMembership.objects.bulk_create(
        CouncilMembership(council=council, organization=o) for o in orgs if o.pk not in members
    )
    return council


def seed_procedures(orgs: Sequence[Organization]) -> list[Procedure]:
    """Two departments and one published procedure of each kind per organization (made through
    procedures.services where missing); the procedures organization by organization, kinds in
    KIND_WEIGHTS order, each with current_version loaded."""
    with_departments = set(
        Department.objects.filter(organization__in=orgs).values_list("organization_id", flat=True)
    )
    Department.objects.bulk_create(
        Department(organization=o, name=name)
        for o in orgs
        if o.pk not in with_departments
        for name in ("総務部 総務課", "市民生活部 市民課")
    )
    first_department = {}
    for department in Department.objects.filter(organization__in=orgs).order_by("pk"):
        first_department.setdefault(department.organization_id, department)
    titles = {title: kind for kind, (title, _schema) in SCHEMAS.items()}
    found = {
        (p.organization_id, p.kind): p
        for p in Procedure.objects.filter(organization__in=orgs, title__in=list(titles))
        .select_related("current_version")
        .order_by("pk")
    }
    result = []
    for organization in orgs:
        for kind in KIND_WEIGHTS:
            procedure = found.get((organization.pk, kind))
            if procedure is None:
                title, schema = SCHEMAS[kind]
                procedure = Procedure.objects.create(
                    organization=organization,
                    department=first_department[organization.pk],
                    title=title,
                    kind=kind,
                    standard_processing_days=14,
                )
                save_form_version(procedure=procedure, schema=schema)
                set_procedure_status(procedure=procedure, status=Procedure.Status.PUBLISHED)
                procedure = Procedure.objects.select_related("current_version").get(pk=procedure.pk)
            result.append(procedure)
    return result


def fake_answers(rng: random.Random, kind: str, number: int) -> dict:
    """One resident's answers to the SCHEMAS form of `kind`: name with its kana (hiragana or katakana, as
    typed), phone, an e-mail address of a reserved example domain, dates, an address. `number` (the
    row's index) is unused by the answers themselves: kept for callers that vary one row."""
    if kind == Procedure.Kind.SURVEY:
        answers: dict = {"satisfaction": rng.choice(SCHEMAS[kind][1]["fields"][0]["options"])}
        if rng.random() < 0.8:
            answers["age"] = rng.choice(["10代", "20代", "30代", "40代", "50代", "60代", "70代以上"])
        if rng.random() < 0.3:
            answers["comment"] = rng.choice(
                ["スマートフォンから簡単に申請できて助かりました。", "文字がもう少し大きいと読みやすいです。"]
            )
        return answers
    (family, family_kana), (given, given_kana) = rng.choice(FAMILY), rng.choice(GIVEN)
    kana = f"{family_kana}\u3000{given_kana}"
    if rng.random() < 0.5:
        kana = kana.translate(_KATAKANA)
    answers = {
        "name": {"family": family, "given": given},
        "furigana": kana,
        "phone": f"0{rng.randint(120, 999)}-{rng.randint(20, 99)}-{rng.randint(0, 9999):04d}",
        "email": email_address(rng, family_kana, given_kana),
    }
    if kind == Procedure.Kind.APPLICATION:
        born = date(1930, 1, 1) + timedelta(days=rng.randint(0, 365 * 85))
        answers["birth_date"] = born.isoformat()
        answers["address"] = {
            "postal_code": f"{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}",
            "address": f"{rng.choice(TOWNS)}{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号",
        }
        answers["use"] = rng.choice(["年金の手続", "就職", "自動車の登録", "その他"])
    elif kind == Procedure.Kind.NOTIFICATION:
        answers["change"] = rng.choice(["住所の変更", "飼い主の変更", "死亡"])
        answers["changed_on"] = (date(2024, 4, 1) + timedelta(days=rng.randint(0, 700))).isoformat()
    else:
        answers["session"] = rng.choice(["午前の回", "午後の回"])
    return answers


def email_address(rng: random.Random, family_kana: str, given_kana: str) -> str:
    """An address as a resident makes one: their name in romaji in either order, with a dot, an underscore
    or nothing between, a number half of the time, at one of DOMAINS; e.g. 'hanako.sato12@example.ne.jp'."""
    family, given = ROMAJI[family_kana], ROMAJI[given_kana]
    first, second = (given, family) if rng.random() < 0.7 else (family, given)
    local = rng.choice([".", "_", ""]).join((first, second))
    if rng.random() < 0.5:
        local += str(rng.randint(1, 9999))
    return f"{local}@{rng.choice(DOMAINS)}"


def receipt_number(index: int) -> str:
    """The `index`-th seeded receipt number: 9 digits (the first not 0) and the Damm check digit. 7**10 is
    prime to 900,000,000, so the bodies are a permutation of 100,000,000…999,999,999: distinct indexes
    below 900,000,000 give distinct numbers."""
    body = str(100_000_000 + (index * 282_475_249 + 12_345_678) % 900_000_000)
    return body + damm_check_digit(body)


def write_submissions(
    procedures: Sequence[Procedure],
    count: int,
    *,
    seed: int,
    years: int = 3,
    now: datetime,
    assignees: Sequence[int] = (),
    answers_for: Callable[[int, dict], dict] | None = None,
) -> int:
    """Write `count` submissions spread over `procedures` (each with current_version loaded): weighted by a
    size of each organization (drawn from its id alone, the same for every seed), then by KIND_WEIGHTS;
    arrivals uniform from 1 April (JST) `years - 1` 年度 before `now`'s to `now` (aware; stored UTC). A
    third get one of `assignees` (user ids) if given. `answers_for(i, answers)` may replace the answers of
    the i-th row (a resident a benchmark looks for). Does not write the derived rows: call
    rebuild_derived() after. Returns the number of rows written."""
    if not procedures or count <= 0:
        return 0
    from madoguchi.submissions.services import hash_inquiry_code

    rng = random.Random(seed)
    sizes: dict[int, float] = {}
    weights = []
    for p in procedures:
        # An organization's size is its own, whatever the seed: rows added later go where the earlier went.
        size = sizes.setdefault(
            p.organization_id, random.Random(p.organization_id * 7919 + 17).lognormvariate(0, 1.2)
        )
        weights.append(size * KIND_WEIGHTS[p.kind])
    cumulative, total = [], 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    first_fy = fiscal_year(now) - (years - 1)
    start = datetime.combine(date(first_fy, 4, 1), dtime(), tzinfo=JST).astimezone(UTC)
    span = (now - start).total_seconds()
    first = Submission.objects.filter(token__startswith=TOKEN_PREFIX).count()
    # Receipt numbers residents already have (the demo's, a test's): a seeded number that would clash takes
    # the index from the top of the range instead (distinct while fewer than 450,000,000 rows are seeded).
    taken = set(
        Submission.objects.exclude(token__startswith=TOKEN_PREFIX).values_list("receipt_number", flat=True)
    )

    def number_for(i: int) -> str:
        number = receipt_number(i)
        if number in taken:
            number = receipt_number(899_999_999 - i)
            if number in taken:
                raise RuntimeError(f"seed_load: receipt numbers {i} and {899_999_999 - i} are both taken")
        return number

    fields = {p.pk: p.current_version.spec.fields for p in procedures}
    # Each organization's data keys, read (or made) here: while COPY holds the connection no other statement
    # can run on it, and the rows are made during the COPY.
    keys = {p.organization_id: envelope.keys_for(p.organization_id) for p in procedures}

    def rows():
        for n in range(count):
            i = first + n
            procedure = rng.choices(procedures, cum_weights=cumulative)[0]
            answers = fake_answers(rng, procedure.kind, i)
            if answers_for is not None:
                answers = answers_for(i, answers)
            status = rng.choice(STATUSES[procedure.kind])
            arrived = start + timedelta(seconds=rng.random() * span)
            moved = (
                arrived
                if status == Status.RECEIVED
                else min(arrived + timedelta(days=rng.randint(0, 20)), now)
            )
            token = f"{TOKEN_PREFIX}{seed}-{i}"
            name, kana = columns(procedure.current_version_id, fields[procedure.pk], answers)
            assignee = rng.choice(assignees) if assignees and rng.random() < 0.33 else None
            yield (
                procedure.organization_id,
                procedure.pk,
                procedure.current_version_id,
                number_for(i),
                hash_inquiry_code(inquiry_code_for(token)),
                token,
                status,
                arrived,
                moved,
                stored_form(procedure.organization_id, answers, keys=keys[procedure.organization_id]),
                answers.get("email", ""),
                assignee,
                "ja",
                (moved + timedelta(days=14)).astimezone(JST).date() if status == Status.RETURNED else None,
                name,
                kana,
                searchable(procedure.current_version_id, fields[procedure.pk], answers),
                "",  # no 重複の防止 on the seeded procedures
            )

    if connection.vendor == "postgresql":
        sql = f"COPY submissions_submission ({', '.join(COLUMNS)}) FROM STDIN"
        # As the tables' owner (lib/tenancy.py): COPY cannot load a table under row-level security
        with (
            tenancy.as_table_owner(),
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(sql) as copy,
        ):
            for row in rows():
                copy.write_row((*row[:9], json.dumps(row[9], ensure_ascii=False), *row[10:]))
    else:
        batch: list[Submission] = []
        with transaction.atomic():
            for row in rows():
                values = dict(zip(COLUMNS, row, strict=True))
                submission = Submission(**values)
                batch.append(submission)
                if len(batch) >= BATCH:
                    _bulk_create(batch)
                    batch = []
            _bulk_create(batch)
    return count


# Answers that repeat (names, kana, choices, dates, addresses) are folded once: fold() is most of a row's
# cost. A phone number is its digits; an e-mail address of printable ASCII without spaces folds to its
# lower case (NFKC, the variant table and kana leave ASCII alone).
_PLAIN_ASCII = re.compile(r"[\x21-\x7e]{1,200}")


def _key(value) -> object:
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_key(v) for v in value)
    return value


def searchable(version_id: int, fields, answers: dict) -> str:
    """search_text(fields, answers) (lib/search.py), each field's share computed once per distinct answer
    (phone numbers and e-mail addresses directly). The same text, as tests/test_seed_load.py checks."""
    parts = []
    for f in fields:
        value = answers.get(f.key)
        if f.type == "phone" and isinstance(value, str) and phone_digits(value):
            parts.append(" " + phone_digits(value))
        elif f.type == "email" and isinstance(value, str) and _PLAIN_ASCII.fullmatch(value):
            parts.append(" " + value.lower())
        elif f.type == "group":
            parts.append(search_text([f], {f.key: value}))
        else:
            key = (version_id, f.key, _key(value))
            part = _SEARCH_PARTS.get(key)
            if part is None:
                part = _SEARCH_PARTS[key] = search_text([f], {f.key: value})
            parts.append(part)
    return "".join(parts)[:MAX_SEARCH_CHARS].rstrip()


def columns(version_id: int, fields, answers: dict) -> tuple[str, str]:
    """applicant_columns(fields, answers) (lib/search.py), once per distinct name and kana."""
    key = (version_id, *(_key(answers.get(f.key)) for f in fields if f.type in ("name", "furigana")))
    found = _COLUMNS.get(key)
    if found is None:
        found = _COLUMNS[key] = applicant_columns(fields, answers)
    return found


_SEARCH_PARTS: dict = {}
_COLUMNS: dict = {}


def _bulk_create(batch: list[Submission]) -> None:
    # updated_at is auto_now, which bulk_create would stamp with the present: keep the seeded moment.
    updated_at = Submission._meta.get_field("updated_at")
    updated_at.auto_now = False
    try:
        Submission.objects.bulk_create(batch)
    finally:
        updated_at.auto_now = True


def rebuild_derived(procedure_ids: Sequence[int]) -> None:
    """Recount, in SQL, what the services write beside each submission, for seeded submissions of these
    procedures: the history (StatusChange: 受付 by the resident at arrival; for a case not 処理待ち the move
    to its status at updated_at, by the resident for a 取下げ and by staff otherwise), and for these
    procedures the daily and monthly counts (by JST day and month, with the 年度) and the counts by status,
    replaced by recounts."""
    if not procedure_ids:
        return
    ids = list(procedure_ids)
    marks = ", ".join(["%s"] * len(ids))
    if connection.vendor == "postgresql":
        day = "(s.submitted_at AT TIME ZONE 'Asia/Tokyo')::date"
        fy = f"(EXTRACT(YEAR FROM {day}) - CASE WHEN EXTRACT(MONTH FROM {day}) < 4 THEN 1 ELSE 0 END)"
        month = "date_trunc('month', day)::date"
    else:
        day = "date(s.submitted_at, '+9 hours')"
        fy = f"(CAST(strftime('%%Y', {day}) AS INTEGER) - (CAST(strftime('%%m', {day}) AS INTEGER) < 4))"
        month = "date(day, 'start of month')"
    history = StatusChange._meta.db_table
    seeded = f"s.procedure_id IN ({marks}) AND s.token LIKE '{TOKEN_PREFIX}%%'"
    fresh = f"NOT EXISTS (SELECT 1 FROM {history} h WHERE h.submission_id = s.id)"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {history} (organization_id, submission_id, from_status, to_status, actor_kind, "  # noqa: S608
            f"reason, created_at) SELECT s.organization_id, s.id, '', 'received', 'resident', '', s.submitted_at "
            f"FROM submissions_submission s WHERE {seeded} AND {fresh}",
            ids,
        )
        cursor.execute(
            f"INSERT INTO {history} (organization_id, submission_id, from_status, to_status, actor_kind, "  # noqa: S608
            f"reason, created_at) SELECT s.organization_id, s.id, 'received', s.status, "
            f"CASE WHEN s.status = 'withdrawn' THEN 'resident' ELSE 'staff' END, "
            f"CASE WHEN s.status = 'withdrawn' THEN '都合により取り下げます。' "
            f"WHEN s.status IN ('returned', 'rejected') THEN '記載内容をご確認ください。' ELSE '' END, "
            f"s.updated_at FROM submissions_submission s WHERE {seeded} AND s.status <> 'received' AND NOT EXISTS "
            f"(SELECT 1 FROM {history} h WHERE h.submission_id = s.id AND h.to_status = s.status)",
            ids,
        )
        daily, status = DailyCount._meta.db_table, StatusCount._meta.db_table
        cursor.execute(f"DELETE FROM {daily} WHERE procedure_id IN ({marks})", ids)  # noqa: S608
        cursor.execute(f"DELETE FROM {status} WHERE procedure_id IN ({marks})", ids)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {daily} (organization_id, procedure_id, day, fiscal_year, count) "  # noqa: S608
            f"SELECT s.organization_id, s.procedure_id, {day}, {fy}, count(*) FROM submissions_submission s "
            f"WHERE s.procedure_id IN ({marks}) GROUP BY s.organization_id, s.procedure_id, {day}",
            ids,
        )
        monthly = MonthlyCount._meta.db_table
        counts.reopen_all()  # closed months' sums by organization are made again when next read
        cursor.execute(f"DELETE FROM {monthly} WHERE procedure_id IN ({marks})", ids)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {monthly} (organization_id, procedure_id, month, fiscal_year, count) "  # noqa: S608
            f"SELECT organization_id, procedure_id, {month}, fiscal_year, sum(count) FROM {daily} "
            f"WHERE procedure_id IN ({marks}) GROUP BY organization_id, procedure_id, {month}, fiscal_year",
            ids,
        )
        cursor.execute(
            f"INSERT INTO {status} (organization_id, procedure_id, status, count) "  # noqa: S608
            f"SELECT s.organization_id, s.procedure_id, s.status, count(*) FROM submissions_submission s "
            f"WHERE s.procedure_id IN ({marks}) AND s.status <> 'draft' "
            f"GROUP BY s.organization_id, s.procedure_id, s.status",
            ids,
        )
