"""manage.py seed_load --submissions N [--organizations M] [--seed S] [--years Y]: realistic data at scale.

See madoguchi/submissions/seeding.py for what is made. For benchmarks and load tests on a database of
their own, never on one that holds residents' data (the submissions are fictitious but look real).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from madoguchi.lib import tenancy
from madoguchi.submissions.seeding import seed_load

TRIGRAM_INDEX = "sub_search_trgm"
# From this many rows on PostgreSQL, the search column's trigram index is built after the rows, as the
# migration builds it on existing rows (several times faster than growing it row by row).
REBUILD_INDEX_FROM = 200_000


class Command(BaseCommand):
    help = "負荷試験用のデータ（団体、協議会、手続、申請）を大量に作ります。同じシードからは同じデータになります。"

    def add_arguments(self, parser):
        parser.add_argument("--submissions", type=int, required=True, help="作る申請の件数")
        parser.add_argument("--organizations", type=int, default=None, help="団体の数（省略時は1,788すべて）")
        parser.add_argument("--seed", type=int, default=2026, help="乱数のシード")
        parser.add_argument("--years", type=int, default=3, help="申請を散らす年度の数（今年度まで）")

    def handle(self, *args, submissions, organizations, seed, years, verbosity, **options):
        if submissions < 0 or years < 1:
            raise CommandError("件数は0以上、年度の数は1以上で指定してください。")
        with tenancy.as_table_owner():  # COPY and index rebuilding: the owner's work
            self._load(submissions, organizations, seed, years, verbosity)

    def _load(self, submissions, organizations, seed, years, verbosity):
        rebuild = connection.vendor == "postgresql" and submissions >= REBUILD_INDEX_FROM
        if rebuild:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
        try:
            result = seed_load(
                submissions=submissions,
                organizations=organizations,
                seed=seed,
                years=years,
                progress=self.stdout.write if verbosity > 0 else None,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            if rebuild:
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON submissions_submission "
                        "USING gin (search_text gin_trgm_ops)"
                    )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        if verbosity > 0:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{len(result.organization_ids):,}団体・{len(result.procedure_ids):,}手続に"
                    f"{result.submissions:,}件の申請を作りました。"
                )
            )
