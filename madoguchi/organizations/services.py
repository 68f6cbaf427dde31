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


class DepartmentError(ValueError):
    """A 所属 change refused; the message is Japanese, for the organization's admin."""


@transaction.atomic
def save_department(*, organization, actor, department=None, name: str, phone: str = "", email: str = ""):
    """Add a 所属 (section) to `organization`, or change `department` (which must be the organization's).

    Its phone and e-mail are shown to residents on the procedures it owns. Raises DepartmentError for a
    name already used in the organization or a department of another organization. Audited.
    """
    from madoguchi.audit import services as audit
    from madoguchi.organizations.models import Department

    if department is not None and department.organization_id != organization.pk:
        raise DepartmentError("ほかの団体の所属は変更できません。")
    clash = Department.objects.filter(organization=organization, name=name)
    if department is not None:
        clash = clash.exclude(pk=department.pk)
    if clash.exists():
        raise DepartmentError(f"「{name}」という所属はもうあります。")
    before = None
    if department is None:
        department = Department.objects.create(organization=organization, name=name, phone=phone, email=email)
        action = "department.create"
    else:
        before = {"name": department.name, "phone": department.phone, "email": department.email}
        department.name, department.phone, department.email = name, phone, email
        department.save(update_fields=["name", "phone", "email"])
        action = "department.update"
    audit.record(
        organization=organization,
        actor=actor,
        action=action,
        obj=department,
        detail={"before": before, "after": {"name": name, "phone": phone, "email": email}},
    )
    return department


@transaction.atomic
def delete_department(*, organization, actor, department) -> None:
    """Remove a 所属 no procedure and no staff member uses. Raises DepartmentError otherwise."""
    from madoguchi.audit import services as audit

    if department.organization_id != organization.pk:
        raise DepartmentError("ほかの団体の所属は削除できません。")
    if department.procedure_set.exists():
        raise DepartmentError(f"「{department.name}」は手続の担当所属になっているため、削除できません。")
    if department.members.exists():
        raise DepartmentError(f"「{department.name}」に職員がいるため、削除できません。")
    audit.record(
        organization=organization, actor=actor, action="department.delete", obj=department,
        detail={"name": department.name},
    )  # fmt: skip
    department.delete()
