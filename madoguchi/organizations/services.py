import csv
from pathlib import Path

from django.db import transaction

from madoguchi.organizations.models import Organization

CODES_CSV = Path(__file__).resolve().parent / "data" / "local-government-codes.csv"


def read_codes(path: Path = CODES_CSV) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@transaction.atomic
def import_organizations(*, prefecture: str | None, path: Path = CODES_CSV) -> tuple[int, int]:
    """Create or update the organizations of one prefecture (name or 2-digit code), or of all with None.

    Returns (created, updated). Local data (population, contacts, active flag) is left as it is.
    """
    rows = read_codes(path)
    if prefecture is not None:
        wanted = prefecture.strip()
        rows = [r for r in rows if wanted in (r["prefecture"], r["code"][:2], r["code"])]
        if not rows:
            raise ValueError(f"都道府県「{prefecture}」が見つかりません")
    created = updated = 0
    prefectures: dict[str, Organization] = {}
    for row in sorted(rows, key=lambda r: (r["kind"] != "prefecture", r["code"])):
        parent = None
        if row["kind"] == "municipality":
            parent = (
                prefectures.get(row["code"][:2])
                or Organization.objects.filter(
                    kind=Organization.Kind.PREFECTURE, code__startswith=row["code"][:2]
                ).first()
            )
        organization, was_created = Organization.objects.update_or_create(
            code=row["code"],
            defaults={
                "kind": row["kind"],
                "name": row["name"],
                "name_kana": row["name_kana"],
                "prefecture": parent,
            },
        )
        if row["kind"] == "prefecture":
            prefectures[row["code"][:2]] = organization
        created += was_created
        updated += not was_created
    return created, updated
