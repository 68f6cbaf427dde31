"""The staff pages at scale: the inbox's first page, an indicator page and the council page at 10,000
submissions over the 1,788 organizations, then at N (quick: 1,000,000; full: 10,000,000), in one run.

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
"""

import argparse
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
    args = parser.parse_args()
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
        run(args)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database(f"DROP DATABASE IF EXISTS {dbname}")
    print(f"whole run: {time.perf_counter() - began:.0f} s")


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


def run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from madoguchi.accounts.models import CouncilRole, Membership, Role
    from madoguchi.lib.japanese import fiscal_year
    from madoguchi.organizations.models import Council, Organization
    from madoguchi.stats import indicators
    from madoguchi.submissions.models import Submission
    from madoguchi.submissions.seeding import SEED_COUNCIL

    seed(SMALL)
    busiest = (
        Submission.objects.filter(procedure__kind="application")
        .values("procedure", "organization")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    User = get_user_model()
    clerk = User.objects.create_user(username="bench-clerk")
    # A processor: an admin must pass a second factor first (accounts/two_factor.py).
    Membership.objects.create(user=clerk, organization_id=busiest["organization"], role=Role.PROCESSOR)
    council = Council.objects.get(name=SEED_COUNCIL)
    secretariat = User.objects.create_user(username="bench-council")
    CouncilRole.objects.create(user=secretariat, council=council)
    council_indicator = indicators.create_indicator(
        council=council, actor=secretariat, name="協議会全体の申請件数", kind="outcome", unit="件",
        actual_source="council",
    )  # fmt: skip
    organization_indicator = indicators.create_indicator(
        organization=Organization.objects.get(pk=busiest["organization"]), actor=clerk, name="この団体の申請件数",
        kind="outcome", unit="件", actual_source="organization",
    )  # fmt: skip
    for year in range(fiscal_year(timezone.now()) - 2, fiscal_year(timezone.now()) + 1):
        for indicator, actor in ((council_indicator, secretariat), (organization_indicator, clerk)):
            indicators.set_target(indicator=indicator, fiscal_year=year, target=Decimal(1000), actor=actor)

    pages = [
        ("inbox: first page", clerk, reverse("staff:inbox", kwargs={"procedure_id": busiest["procedure"]})),
        ("indicator page (the organization's count)", clerk,
         reverse("staff:indicator", kwargs={"indicator_id": organization_indicator.pk})),
        ("indicator page (the council's count)", secretariat,
         reverse("staff:indicator", kwargs={"indicator_id": council_indicator.pk})),
        ("council page (1,788 members)", secretariat, reverse("staff:council", kwargs={"council_id": council.pk})),
        ("council's indicators", secretariat, reverse("staff:council_indicators", kwargs={"council_id": council.pk})),
        ("staff home", clerk, reverse("staff:home")),
    ]  # fmt: skip
    clients = {}
    for user in (clerk, secretariat):
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)

    def timed_all() -> dict[str, list[float]]:
        results = {}
        for label, user, url in pages:
            client = clients[user.pk]
            for _ in range(3):  # warm up: plans, caches
                assert client.get(url).status_code == 200, (label, url)
            wall = []
            for _ in range(args.requests):
                start = time.perf_counter()
                response = client.get(url)
                wall.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (label, url)
            results[label] = wall
        return results

    small = timed_all()
    inbox_small = Submission.objects.filter(procedure_id=busiest["procedure"]).count()
    seed(args.rows)
    big = timed_all()
    inbox_big = Submission.objects.filter(procedure_id=busiest["procedure"]).count()
    print(
        f"\nPostgreSQL, 1,788 organizations, 7,152 procedures; the inbox's procedure holds {inbox_small:,} "
        f"then {inbox_big:,} cases; {args.requests} requests of each page at each size"
    )
    print(f"{'':44}{'p95 ms at 10k':>14}{f'at {args.rows:,}':>16}{'ratio':>8}   goal <= 1.5")
    for label, _user, _url in pages:
        ratio = p95(big[label]) / p95(small[label])
        print(
            f"{label:44}{p95(small[label]):14.1f}{p95(big[label]):16.1f}{ratio:8.2f}   "
            f"{'met' if ratio <= 1.5 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
