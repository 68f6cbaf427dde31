"""Finding a case in the inbox at 1,000,000 submissions, and a bulk status change of 1,000 cases.

On its own PostgreSQL database (migrated, the demo loaded), one procedure of 鳥取市 gets N synthetic
submissions (default 1,000,000) written with COPY: realistic Japanese names (common family and given
names, old forms such as 髙橋, 﨑, 𠮷 among them), kana typed in hiragana or katakana, phone numbers and
e-mail addresses, statuses and arrivals spread over three years, a third assigned. Their name, kana and
search columns are made by the product's own lib/search.py, as every write path makes them; the trigram
index is built after the COPY (as the migration builds it on existing rows), then ANALYZE.

1. The inbox (GET through Django's test client: middleware, session, view, template, PostgreSQL; DEBUG
   off, connections kept): the first page, then searches of each kind, filters and the oldest first.
   Goal: a name search's p95 <= 3 x the first page's p95, measured in the same run.
2. A bulk status change (services.bulk_transition: each case its own transaction, history, audit row and
   e-mail) of 100 and of 1,000 cases: time, and the peak of Python memory (tracemalloc). Goal: flat.

    make bench-search             # = .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --rows 1000000 --requests 50
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_search (default), dropped at the end unless --keep
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

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
SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "kana", "type": "furigana", "label": "ふりがな", "required": True},
        {"key": "phone", "type": "phone", "label": "電話番号", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス"},
        {"key": "purpose", "type": "dropdown", "label": "使いみち", "options": ["年金", "就職", "その他"]},
    ],
}
# Statuses as a year of an application's cases leaves them.
STATUSES = ["completed"] * 12 + ["received"] * 3 + ["in_review"] * 2 + ["returned", "rejected", "withdrawn"]
# The one resident a clerk looks for: a family name no one else has, and her own phone number.
HANAKO = {"family": "鳥取", "given": "花子", "kana": "とっとり　はなこ", "phone": "0857-26-7111"}
COLUMNS = [
    "organization_id", "procedure_id", "form_version_id", "receipt_number", "inquiry_code_hash", "token",
    "status", "submitted_at", "updated_at", "answers_data", "applicant_email", "assignee_id", "language",
    "correction_deadline", "applicant_name", "applicant_kana", "search_text",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_search")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
        "SECRET_KEY": "bench-only-secret",
        "SECURE_COOKIES": "false",
        "STATIC_MANIFEST": "false",
        "ALLOWED_HOSTS": "testserver",
        "DB_CONN_MAX_AGE": "3600",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DEBUG", None)
    dbname = database_url.rsplit("/", 1)[-1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"

    def database(statement: str) -> None:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(statement)

    database(f"DROP DATABASE IF EXISTS {dbname}")
    database(f"CREATE DATABASE {dbname}")
    try:
        for command in (["migrate", "-v0"], ["createcachetable"], ["load_demo", "-v0"]):
            subprocess.run(
                [PY, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
            )
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        run(args)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database(f"DROP DATABASE IF EXISTS {dbname}")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def timed_gets(client, url: str, params: dict, n: int) -> list[float]:
    for _ in range(3):  # warm up: plans, caches
        assert client.get(url, params).status_code == 200
    wall = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, params)
        wall.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return wall


def fill(procedure, rows: int, users: list[int]) -> dict:
    """COPY `rows` submissions into the procedure; returns what the searches look for."""
    from django.db import connection

    from madoguchi.lib.search import applicant_columns, search_text

    fields = procedure.current_version.spec.fields
    rng = random.Random(2026)
    now = datetime.now(UTC)
    start = now - timedelta(days=3 * 365)
    step = (now - start) / rows
    hanako_at = rows * 2 // 3
    names: dict = {}
    sql = f"COPY submissions_submission ({', '.join(COLUMNS)}) FROM STDIN"
    began = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for i in range(rows):
            if i == hanako_at:
                family, given, kana, phone = (
                    HANAKO["family"],
                    HANAKO["given"],
                    HANAKO["kana"],
                    HANAKO["phone"],
                )
            else:
                (family, family_kana), (given, given_kana) = rng.choice(FAMILY), rng.choice(GIVEN)
                kana = f"{family_kana}\u3000{given_kana}"
                if rng.random() < 0.5:
                    kana = kana.translate(_KATAKANA)
                phone = f"0857-{rng.randint(20, 99)}-{rng.randint(0, 9999):04d}"
            email = f"resident{i}@example.jp"
            answers = {
                "name": {"family": family, "given": given},
                "kana": kana,
                "phone": phone,
                "email": email,
                "purpose": rng.choice(["年金", "就職", "その他"]),
            }
            key = (family, given, kana)
            if key not in names:
                names[key] = applicant_columns(fields, answers)
            name, kana_shown = names[key]
            status = rng.choice(STATUSES)
            arrived = start + step * i
            copy.write_row(
                (
                    procedure.organization_id,
                    procedure.pk,
                    procedure.current_version_id,
                    f"{9_000_000_000 + i}",
                    "0" * 64,
                    f"bench-{i}",
                    status,
                    arrived,
                    arrived,
                    json.dumps({"format": 1, "answers": answers}, ensure_ascii=False),
                    email,
                    rng.choice(users) if rng.random() < 0.33 else None,
                    "ja",
                    (arrived + timedelta(days=14)).date() if status == "returned" else None,
                    name,
                    kana_shown,
                    search_text(fields, answers),
                )
            )
    copied = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO stats_statuscount (organization_id, procedure_id, status, count) "
            "SELECT organization_id, procedure_id, status, count(*) FROM submissions_submission "
            "WHERE procedure_id = %s GROUP BY 1, 2, 3",
            [procedure.pk],
        )
        began = time.perf_counter()
        cursor.execute(
            "CREATE INDEX sub_search_trgm ON submissions_submission USING gin (search_text gin_trgm_ops)"
        )
        indexed = time.perf_counter() - began
        cursor.execute("ANALYZE submissions_submission")
        cursor.execute("SELECT pg_size_pretty(pg_relation_size('sub_search_trgm'))")
        index_size = cursor.fetchone()[0]
    print(f"{rows:,} submissions: COPY {copied:.0f} s, trigram index {indexed:.0f} s ({index_size})")
    return {"common": "佐藤花子"}


_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}


def run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from madoguchi.organizations.models import Organization
    from madoguchi.procedures import services as procedure_services
    from madoguchi.procedures.models import Procedure
    from madoguchi.submissions import services
    from madoguchi.submissions.models import Submission

    organization = Organization.objects.get(code="312011")
    User = get_user_model()
    admin = User.objects.get(username="tottori-admin")
    clerk = User.objects.get(username="tottori-staff")
    procedure = procedure_services.create_procedure(
        organization=organization, actor=admin, title="住民票の写しの郵送請求（計測）", kind="application"
    )
    procedure_services.save_draft(
        procedure=procedure, schema=SCHEMA, actor=admin, revision=None, change="bench"
    )
    procedure_services.publish(procedure=procedure, actor=admin)
    procedure_services.update_procedure_settings(
        procedure=procedure, actor=admin, values={"standard_processing_days": 14}
    )
    procedure = Procedure.objects.select_related("current_version").get(pk=procedure.pk)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX sub_search_trgm")  # built after the rows, as the migration does
    fill(procedure, args.rows, [clerk.pk, admin.pk])

    client = Client()
    client.force_login(clerk)
    url = f"/staff/procedures/{procedure.pk}/"
    n = args.requests
    results: list[tuple[str, list[float], int]] = []

    def measure(label: str, params: dict, *, search: str | None = None) -> None:
        if search is not None:
            response = client.post(url, {"q": search, **params})
            assert response.status_code == 302, response.status_code
            params = dict(p.split("=", 1) for p in response["Location"].split("?", 1)[1].split("&"))
        page = client.get(url, params).content.decode()
        shown = page.count('name="ids"')
        results.append((label, timed_gets(client, url, params, n), shown))

    measure("inbox: first page (newest first)", {})
    measure("name: 佐藤花子 (about 1 in 1,650)", {}, search="佐藤花子")
    measure("kana typed in katakana: サトウ ハナコ", {}, search="サトウ ハナコ")
    measure("name by its common form: 高橋 (髙橋 too)", {}, search="高橋")
    measure("rare name: 鳥取花子 (1 case)", {}, search="鳥取花子")
    measure("rare kana: とっとり (1 case)", {}, search="とっとり")
    measure("two characters: 佐藤 (a family name's start)", {}, search="佐藤")
    measure("two characters: 花子 (a given name's start)", {}, search="花子")
    measure("phone: 0857-26-7111 (1 case)", {}, search="0857-26-7111")
    measure("e-mail: resident123456@example.jp", {}, search="resident123456@example.jp")
    measure("no such name: 存在しない名前", {}, search="存在しない名前")
    measure("filter: 自分の担当", {"assignee": "me"})
    measure("filter: 期限切れ", {"overdue": "1"})
    measure("filter: 処理待ち, oldest first", {"status": "received", "order": "old"})
    measure("name + 自分の担当 + oldest first", {"assignee": "me", "order": "old"}, search="佐藤花子")

    base = p95(results[0][1])
    print(f"\n{'':48}{'rows':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}   goal (p95 <= 3 x first page)")
    for label, wall, shown in results:
        goal = ""
        if not label.startswith(("inbox", "filter")):
            goal = f"{p95(wall) / base:.2f} x: {'met' if p95(wall) <= 3 * base else 'MISSED'}"
        print(f"{label:48}{shown:5}{statistics.median(wall):9.1f}{p95(wall):9.1f}{max(wall):9.1f}   {goal}")

    # 2. Bulk status change: 100 and 1,000 cases (処理待ち → 処理中), each timed without tracemalloc (which
    # slows Python several times) and its Python peak measured on as many other cases with it.
    received = iter(
        Submission.objects.filter(procedure=procedure, status="received")
        .order_by("-submitted_at")
        .values_list("pk", flat=True)[:2220]
    )

    def bulk(count: int) -> float:
        ids = [next(received) for _ in range(count)]
        began = time.perf_counter()
        result = services.bulk_transition(
            procedure=procedure, submission_ids=ids, to_status="in_review", actor=clerk, reason=""
        )
        assert result.moved == count and not result.refused, result
        return time.perf_counter() - began

    bulk(20)  # warm up: imports, templates of the e-mail, prepared statements
    print()
    for count in (100, 1000):
        elapsed = bulk(count)
        tracemalloc.start()
        bulk(count)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"bulk change of {count:5,} cases: {elapsed:5.1f} s ({elapsed / count * 1000:.1f} ms a case: its "
            f"history, audit row and e-mail), Python peak {peak / 1024:,.0f} KiB"
        )


if __name__ == "__main__":
    main()
