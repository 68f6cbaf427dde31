"""The staff pages at scale: the inbox's first page, an indicator page and the council page (and the
council's public open-data page) at 10,000 submissions over the 1,788 organizations, then at N (quick:
1,000,000; full: 10,000,000), in one run.

On its own PostgreSQL database (default postgres://postgres@127.0.0.1:5432/bench_scale, dropped first):
`manage.py seed_load` makes all 1,788 organizations of the bundled code list, the council of them all, a
procedure of each kind per organization (7,152) and 10,000 submissions; the pages are timed; seed_load
then adds submissions up to N (COPY; history and counts recounted; the search index built after the rows;
ANALYZE) and the same pages are timed again. Each page is requested through Django's test client
(middleware, session, access checks, view, template; DEBUG off, connections kept) by the user who would
look at it: a clerk of the organization whose application procedure receives the most, and the council's
secretariat. Goal: p95 at N <= 1.5 x p95 at 10,000.

    make bench-scale                                      # quick: 1,000,000
    make bench-full                                       # includes --rows 10000000
    .venv/bin/python bench/scale.py --rows 1000000 --requests 30 [--keep]

With --reuse, the two sizes are kept databases (bench_scale_small and, by --rows, e.g. bench_scale10m): each
is made and seeded the first time and only migrated afterwards, and the same pages are timed on both, the
small one first, with the code as it is now. Seeding 10,000,000 takes about an hour, so the code can be timed
again at that size without seeding it again:

    .venv/bin/python bench/scale.py --rows 10000000 --reuse
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SMALL = 10_000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="submissions at the large size")
    parser.add_argument("--requests", type=int, default=30, help="timed requests of each page and size")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="time kept databases of both sizes (see above)")
    parser.add_argument("--time-only", action="store_true", help=argparse.SUPPRESS)  # --reuse's child
    args = parser.parse_args()
    if args.reuse:
        reuse(args)
        return
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_scale")
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

    if args.time_only:
        if not database_exists(admin_url, dbname):
            database(f"CREATE DATABASE {dbname}")
    else:
        database(f"DROP DATABASE IF EXISTS {dbname}")
        database(f"CREATE DATABASE {dbname}")
    began = time.perf_counter()
    try:
        for command in (["migrate", "-v0"], ["createcachetable"]):
            subprocess.run(
                [PY, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
            )
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        if args.time_only:
            from madoguchi.submissions.models import Submission

            if Submission.objects.count() < args.rows:
                seed(args.rows)
            print("RESULT " + json.dumps(timed_all(pages_to_time()[0], args.requests)), flush=True)
            return
        run(args)
    finally:
        if not args.keep and not args.time_only:
            from django.db import connections

            connections.close_all()
            database(f"DROP DATABASE IF EXISTS {dbname}")
    print(f"whole run: {time.perf_counter() - began:.0f} s")


def database_exists(admin_url: str, dbname: str) -> bool:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone() is not None


def reuse(args) -> None:
    """Time the pages on the kept small and large databases, one child process each, and print the ratios."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_scale").rsplit("/", 1)[0]
    large = f"bench_scale{args.rows // 1_000_000}m" if args.rows >= 1_000_000 else f"bench_scale{args.rows}"
    results = {}
    for size, dbname in ((SMALL, "bench_scale_small"), (args.rows, large)):
        child = subprocess.run(
            [PY, __file__, "--time-only", "--rows", str(size), "--requests", str(args.requests)],
            env={**os.environ, "DATABASE_URL": f"{base}/{dbname}"},
            check=True,
            capture_output=True,
            text=True,
        )
        line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
        results[size] = json.loads(line.removeprefix("RESULT "))
        print(f"timed {size:,} submissions on {dbname}", flush=True)
    report(results[SMALL], results[args.rows], args)


def seed(total: int) -> None:
    from django.core.management import call_command
    from django.db.models import Count

    from madoguchi.submissions.models import Submission

    have = Submission.objects.count()
    began = time.perf_counter()
    # Another seed for the rows added: the generator numbers them after those already seeded.
    call_command("seed_load", submissions=total - have, seed=2026 + (have > 0), verbosity=1)
    spread = Submission.objects.values("organization").annotate(n=Count("id")).count()
    print(
        f"{total:,} submissions over {spread:,} organizations in {time.perf_counter() - began:.0f} s",
        flush=True,
    )


def pages_to_time() -> tuple[list[tuple[str, object, str]], int]:
    """([(label, user, URL)], the inbox's procedure id): the pages and who reads them, a processor of the
    organization whose application procedure receives the most and the council's secretariat; their
    indicators with targets for three 年度. Made once per database (a kept one is timed again with them)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.urls import reverse
    from django.utils import timezone

    from madoguchi.accounts.models import CouncilRole, Membership, Role
    from madoguchi.lib.japanese import fiscal_year
    from madoguchi.organizations.models import Council, Organization
    from madoguchi.stats import indicators
    from madoguchi.stats.models import Indicator
    from madoguchi.submissions.models import Submission
    from madoguchi.submissions.seeding import SEED_COUNCIL

    User = get_user_model()
    council = Council.objects.get(name=SEED_COUNCIL)
    clerk = User.objects.filter(username="bench-clerk").first()
    if clerk is None:
        busiest = (
            Submission.objects.filter(procedure__kind="application")
            .values("procedure", "organization")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        clerk = User.objects.create_user(username="bench-clerk")
        # A processor: an admin must pass a second factor first (accounts/two_factor.py).
        Membership.objects.create(user=clerk, organization_id=busiest["organization"], role=Role.PROCESSOR)
        secretariat = User.objects.create_user(username="bench-council")
        CouncilRole.objects.create(user=secretariat, council=council)
        council_indicator = indicators.create_indicator(
            council=council, actor=secretariat, name="協議会全体の申請件数", kind="outcome", unit="件",
            actual_source="council",
        )  # fmt: skip
        organization_indicator = indicators.create_indicator(
            organization=Organization.objects.get(pk=busiest["organization"]), actor=clerk,
            name="この団体の申請件数", kind="outcome", unit="件", actual_source="organization",
        )  # fmt: skip
        for year in range(fiscal_year(timezone.now()) - 2, fiscal_year(timezone.now()) + 1):
            for indicator, actor in ((council_indicator, secretariat), (organization_indicator, clerk)):
                indicators.set_target(
                    indicator=indicator, fiscal_year=year, target=Decimal(1000), actor=actor
                )
    secretariat = User.objects.get(username="bench-council")
    organization = Membership.objects.get(user=clerk).organization_id
    busiest_procedure = (
        Submission.objects.filter(procedure__kind="application", organization_id=organization)
        .values("procedure")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()["procedure"]
    )
    council_indicator = Indicator.objects.get(council=council, name="協議会全体の申請件数")
    organization_indicator = Indicator.objects.get(organization_id=organization, name="この団体の申請件数")
    return [
        ("inbox: first page", clerk, reverse("staff:inbox", kwargs={"procedure_id": busiest_procedure})),
        ("indicator page (the organization's count)", clerk,
         reverse("staff:indicator", kwargs={"indicator_id": organization_indicator.pk})),
        ("indicator page (the council's count)", secretariat,
         reverse("staff:indicator", kwargs={"indicator_id": council_indicator.pk})),
        ("council page (1,788 members)", secretariat, reverse("staff:council", kwargs={"council_id": council.pk})),
        ("council's indicators", secretariat, reverse("staff:council_indicators", kwargs={"council_id": council.pk})),
        ("staff home", clerk, reverse("staff:home")),
        ("open data page (public)", None, reverse("public:opendata", kwargs={"council_id": council.pk})),
    ], busiest_procedure  # fmt: skip


def timed_all(pages, requests: int) -> dict[str, list[float]]:
    """{page label: wall ms of each timed request}, 3 warm-up requests first."""
    from django.test import Client

    clients: dict[int | None, Client] = {}
    results = {}
    for label, user, url in pages:
        key = user.pk if user is not None else None
        if key not in clients:
            clients[key] = Client()
            if user is not None:
                clients[key].force_login(user)
        client = clients[key]
        for _ in range(3):  # warm up: plans, caches
            assert client.get(url).status_code == 200, (label, url)
        wall = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(url)
            wall.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (label, url)
        results[label] = wall
    return results


def report(small: dict[str, list[float]], big: dict[str, list[float]], args) -> None:
    print(f"{'':44}{'p95 ms at 10k':>14}{f'at {args.rows:,}':>16}{'ratio':>8}   goal <= 1.5")
    for label in small:
        ratio = p95(big[label]) / p95(small[label])
        print(
            f"{label:44}{p95(small[label]):14.1f}{p95(big[label]):16.1f}{ratio:8.2f}   "
            f"{'met' if ratio <= 1.5 else 'MISSED'}"
        )


def run(args) -> None:
    from madoguchi.submissions.models import Submission

    seed(SMALL)
    pages, procedure_id = pages_to_time()
    small = timed_all(pages, args.requests)
    inbox_small = Submission.objects.filter(procedure_id=procedure_id).count()
    seed(args.rows)
    big = timed_all(pages, args.requests)
    inbox_big = Submission.objects.filter(procedure_id=procedure_id).count()
    print(
        f"\nPostgreSQL, 1,788 organizations, 7,152 procedures; the inbox's procedure holds {inbox_small:,} "
        f"then {inbox_big:,} cases; {args.requests} requests of each page at each size"
    )
    report(small, big, args)


if __name__ == "__main__":
    main()
