"""Finding a case in the inbox at 1,000,000 submissions, and a bulk status change of 1,000 cases.

On its own PostgreSQL database (migrated, the demo loaded), one procedure of 鳥取市 gets N synthetic
submissions (default 1,000,000) from the product's one generator (madoguchi/submissions/seeding.py, as
`manage.py seed_load`), written with COPY: realistic Japanese names (common family and given names, old
forms such as 髙橋, 﨑, 𠮷 among them), kana typed in hiragana or katakana, phone numbers, e-mail
addresses (the name in romaji, a number or not, six domains), statuses and arrivals spread over three
年度, a third assigned. Their name, kana and search columns are made by the product's own lib/search.py,
as every write path makes them; history and counts are recounted; the trigram index is built after the
COPY (as the migration builds it on existing rows), then ANALYZE.

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
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

# The one resident a clerk looks for: a family name no one else has, and her own phone number.
HANAKO = {
    "family": "鳥取",
    "given": "花子",
    "kana": "とっとり　はなこ",
    "phone": "0857-26-7111",
    "email": "hanako.tottori@example.ne.jp",
}


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
        "MADOGUCHI_INSECURE_DEV_KEY": "1",  # the fixed development master keyset: real AES-256-GCM
        "SUBMISSIONS_PER_CLIENT": "1000000000",  # every simulated resident comes from this one host
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
        for command in (["migrate", "-v0"], ["createcachetable"], ["load_demo", "-v0", "--on-a-server"]):
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
    """`rows` submissions of the procedure by the product's one generator (submissions/seeding.py: COPY,
    search columns by lib/search.py, history and counts recounted), 鳥取花子 among them."""
    from django.db import connection
    from django.utils import timezone

    from madoguchi.submissions.seeding import rebuild_derived, write_submissions

    hanako_at, sample_at = rows * 2 // 3, rows // 3
    samples = {"common": "佐藤花子"}

    def answers_for(i: int, answers: dict) -> dict:
        if i == sample_at:
            samples["email"] = answers["email"]  # another resident's address, searched for
        if i != hanako_at:
            return answers
        return {
            **answers,
            "name": {"family": HANAKO["family"], "given": HANAKO["given"]},
            "furigana": HANAKO["kana"],
            "phone": HANAKO["phone"],
            "email": HANAKO["email"],
        }

    began = time.perf_counter()
    write_submissions(
        [procedure], rows, seed=2026, now=timezone.now(), assignees=users, answers_for=answers_for
    )
    copied = time.perf_counter() - began
    rebuild_derived([procedure.pk])
    with connection.cursor() as cursor:
        began = time.perf_counter()
        cursor.execute(
            "CREATE INDEX sub_search_trgm ON submissions_submission USING gin (search_text gin_trgm_ops)"
        )
        indexed = time.perf_counter() - began
        cursor.execute("ANALYZE submissions_submission")
        cursor.execute("SELECT pg_size_pretty(pg_relation_size('sub_search_trgm'))")
        index_size = cursor.fetchone()[0]
    print(f"{rows:,} submissions: COPY {copied:.0f} s, trigram index {indexed:.0f} s ({index_size})")
    return samples


def run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from madoguchi.organizations.models import Organization
    from madoguchi.procedures import services as procedure_services
    from madoguchi.procedures.models import Procedure
    from madoguchi.submissions import services
    from madoguchi.submissions.models import Submission
    from madoguchi.submissions.seeding import SCHEMAS

    organization = Organization.objects.get(code="312011")
    User = get_user_model()
    admin = User.objects.get(username="tottori-admin")
    clerk = User.objects.get(username="tottori-staff")
    procedure = procedure_services.create_procedure(
        organization=organization, actor=admin, title="住民票の写しの郵送請求（計測）", kind="application"
    )
    procedure_services.save_draft(
        procedure=procedure, schema=SCHEMAS["application"][1], actor=admin, revision=None, change="bench"
    )
    procedure_services.publish(procedure=procedure, actor=admin)
    procedure_services.update_procedure_settings(
        procedure=procedure, actor=admin, values={"standard_processing_days": 14}
    )
    procedure = Procedure.objects.select_related("current_version").get(pk=procedure.pk)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX sub_search_trgm")  # built after the rows, as the migration does
    samples = fill(procedure, args.rows, [clerk.pk, admin.pk])

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
    measure("e-mail: hanako.tottori@example.ne.jp (1 case)", {}, search=HANAKO["email"])
    measure("e-mail of another resident", {}, search=samples["email"])
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
    for count in (100, 1000) if args.rows >= 100_000 else (10, 100):
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
