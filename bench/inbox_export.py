"""The staff inbox and the export at 1,000,000 submissions, next to the same at 10,000 in the same run.

One procedure gets 10,000 submissions, is measured, then grows to 1,000,000 and is measured again:

- inbox: first page, a page deep in the list, the 処理待ち filter, a 受付番号 look-up and a date range,
  each the median of several requests through the real view (middleware, template, access checks);
- export: CSV (UTF-8 and CP932) and .xlsx, each in a fresh process, rows/s and peak memory (max RSS);
  next to PostgreSQL's own COPY of the same rows (every column, CSV, read by psycopg) in the same run.

The ratios (1M / 10k) are what matters: ~1 for the inbox means paging does not slow down with size,
~1 for export memory means it is streamed (goal <= 1.2); the export's rows/s over COPY's, how close
to the database's own speed it gets (goal >= 0.3).

    .venv/bin/python bench/inbox_export.py                      # 1,000,000 rows, CSV + xlsx
    .venv/bin/python bench/inbox_export.py --rows 200000 --no-xlsx
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/madoguchi_bench_rows (default)
"""

import argparse
import html
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.submission_path import FORM  # noqa: E402  the same resident answers in both benchmarks

SMALL = 10_000


def setup_django(database_url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "madoguchi.settings",
            "SECRET_KEY": "bench-only-secret",
            "MADOGUCHI_INSECURE_DEV_KEY": "1",  # the fixed development master keyset: real AES-256-GCM
            "SUBMISSIONS_PER_CLIENT": "1000000000",  # every simulated resident comes from this one host
            "SECURE_COOKIES": "false",
            "STATIC_MANIFEST": "false",
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def grow(procedure, template_answers: dict, upto: int) -> None:
    """Add submissions until the procedure has `upto`, by the product's one generator (submissions/seeding.py:
    COPY, statuses and arrivals over three 年度, history and counts recounted); each resident's own name,
    kana, phone and e-mail over the answers of the real submission (`template_answers`, its stored form)."""
    from django.db import connection
    from django.utils import timezone

    from madoguchi.submissions.answers import stored_answers
    from madoguchi.submissions.models import Submission
    from madoguchi.submissions.seeding import rebuild_derived, write_submissions

    have = Submission.objects.filter(procedure=procedure).count()
    base = stored_answers(procedure.organization_id, template_answers)  # stored encrypted (format 2)

    def answers_for(_i: int, answers: dict) -> dict:
        return {**base, **{key: answers[key] for key in ("name", "furigana", "phone", "email")}}

    write_submissions([procedure], upto - have, seed=upto, now=timezone.now(), answers_for=answers_for)
    rebuild_derived([procedure.pk])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE submissions_submission")


def timed(client, url: str, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times) * 1000


def inbox_timings(client, procedure) -> dict[str, float]:
    from datetime import timedelta

    from django.utils import timezone

    from madoguchi.lib.timeutil import JST
    from madoguchi.submissions.models import Submission

    base = f"/staff/procedures/{procedure.pk}/"
    rows = Submission.objects.filter(procedure=procedure)
    deep = rows.order_by("id").values_list("id", flat=True)[100]
    middle = rows.order_by("id").values_list("receipt_number", flat=True)[rows.count() // 2]
    from madoguchi.lib.receipt import format_receipt_number

    day = (timezone.now() - timedelta(days=1)).astimezone(JST).date().isoformat()
    # The oldest day that has submissions at both sizes (10,000 rows span about 3.5 days).
    old_day = (rows.order_by("submitted_at").first().submitted_at + timedelta(days=1)).astimezone(JST).date()
    waiting = rows.filter(status="received").order_by("submitted_at", "id").values_list("id", flat=True)[10]
    return {
        "inbox first page": timed(client, base),
        "inbox deep page": timed(client, f"{base}?after={deep}"),
        "inbox 処理待ち only": timed(client, f"{base}?status=received"),
        "inbox 受付番号": timed(client, f"{base}?receipt={format_receipt_number(middle)}"),
        "inbox one day": timed(client, f"{base}?from={day}&to={day}"),
        "inbox oldest day": timed(client, f"{base}?from={old_day}&to={old_day}"),
        "inbox 処理待ち deep": timed(client, f"{base}?status=received&after={waiting}"),
    }


EXPORT_CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from bench.inbox_export import setup_django
setup_django({url!r})
from django.test import Client
from django.contrib.auth import get_user_model
client = Client()
client.force_login(get_user_model().objects.get(username="tottori-staff"))
start = time.perf_counter()
response = client.get({path!r})
size = 0
for chunk in (response.streaming_content if response.streaming else [response.content]):
    size += len(chunk)
elapsed = time.perf_counter() - start
print(elapsed, size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def export_run(database_url: str, path: str) -> tuple[float, int, int]:
    code = EXPORT_CHILD.format(root=str(ROOT), url=database_url, path=path)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    elapsed, size, rss_kb = out.split()[-3:]
    return float(elapsed), int(size), int(rss_kb)


def copy_run(database_url: str, procedure_id: int) -> tuple[float, int]:
    """PostgreSQL's own COPY of the same rows (every column, oldest first, CSV) read to the end by psycopg:
    the fastest the rows can leave the database, what the export's rows/s is compared with.
    Returns (seconds, bytes)."""
    import psycopg

    sql = (
        "COPY (SELECT * FROM submissions_submission WHERE procedure_id = %s ORDER BY submitted_at, id) "
        "TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        start = time.perf_counter()
        size = 0
        with cursor.copy(sql, [procedure_id]) as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - start, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-xlsx", action="store_true")
    parser.add_argument("--inbox-only", action="store_true", help="skip the exports")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/madoguchi_bench_rows")
    dbname = database_url.rsplit("/", 1)[-1]
    import psycopg

    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {dbname}")
        admin.execute(f"CREATE DATABASE {dbname}")
    setup_django(database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from madoguchi.procedures.models import Procedure
    from madoguchi.submissions.models import Submission

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("load_demo", verbosity=0, on_a_server=True)
    procedure = Procedure.objects.select_related("organization", "current_version").get(kind="signup")
    Procedure.objects.filter(pk=procedure.pk).update(capacity=None)
    procedure.refresh_from_db()

    # One real submission through the resident's pages gives the stored answers every row copies.
    resident = Client()
    form = f"/{procedure.organization.code}/procedures/{procedure.pk}/"
    resident.post(form, {**FORM, "version": procedure.current_version_id})
    confirm = resident.get(form + "confirm/").content.decode()
    # What the 確認画面 holds (the token and the signed answers), posted back as the browser does.
    hidden = dict(re.findall(r'<input type="hidden" name="(token|confirmed)" value="([^"]*)"', confirm))
    response = resident.post(form + "confirm/", {k: html.unescape(v) for k, v in hidden.items()})
    assert response.status_code == 302 and response["Location"].endswith("/done/"), response
    template = Submission.objects.get(procedure=procedure).answers_data
    Submission.objects.filter(procedure=procedure).delete()

    staff = Client()
    staff.force_login(get_user_model().objects.get(username="tottori-staff"))
    exports = [("CSV UTF-8", ".csv"), ("CSV CP932", ".csv?encoding=cp932")]
    if not args.no_xlsx:
        exports.append(("xlsx", ".xlsx"))
    if args.inbox_only:
        exports = []
    results = {}
    for size in (SMALL, args.rows):
        started = time.perf_counter()
        grow(procedure, template, size)
        print(f"{size:,} rows inserted in {time.perf_counter() - started:.0f} s", flush=True)
        results[size] = inbox_timings(staff, procedure)
        for label, suffix in exports:
            results[size][label] = export_run(
                database_url, f"/staff/procedures/{procedure.pk}/export{suffix}"
            )
            print(f"  {label} at {size:,}: {results[size][label]}", flush=True)
        if exports:
            results[size]["COPY"] = copy_run(database_url, procedure.pk)
            print(f"  PostgreSQL COPY at {size:,}: {results[size]['COPY']}", flush=True)

    small, big = results[SMALL], results[args.rows]
    print(f"\nPostgreSQL, one procedure, {SMALL:,} then {args.rows:,} submissions")
    print(f"{'':22}{f'{SMALL:,} ms':>12}{f'{args.rows:,} ms':>14}{'ratio':>8}")
    for key in small:
        if key.startswith("inbox"):
            print(f"{key:22}{small[key]:12.1f}{big[key]:14.1f}{big[key] / small[key]:8.2f}")
    print(f"\n{'export':12}{'rows':>11}{'seconds':>9}{'rows/s':>9}{'MB out':>8}{'max RSS MB':>11}")
    for label, _ in exports:
        for size in (SMALL, args.rows):
            elapsed, out_bytes, rss = results[size][label]
            print(
                f"{label:12}{size:11,}{elapsed:9.1f}{size / elapsed:9.0f}{out_bytes / 1e6:8.1f}{rss / 1024:11.1f}"
            )
        memory = results[args.rows][label][2] / results[SMALL][label][2]
        print(f"{'':12}memory ratio {memory:.2f} (goal <= 1.2: {'met' if memory <= 1.2 else 'MISSED'})")
    if exports:
        copy_seconds, copy_bytes = results[args.rows]["COPY"]
        copy_rate = args.rows / copy_seconds
        print(
            f"\nPostgreSQL COPY of the same {args.rows:,} rows (every column, CSV): {copy_seconds:.1f} s, "
            f"{copy_rate:,.0f} rows/s, {copy_bytes / 1e6:.1f} MB"
        )
        for label, _ in exports:
            rate = args.rows / results[args.rows][label][0]
            ratio = rate / copy_rate
            print(
                f"{label:12}{rate:9,.0f} rows/s = {ratio:.2f} x COPY (goal >= 0.3: {'met' if ratio >= 0.3 else 'MISSED'})"
            )


if __name__ == "__main__":
    main()
