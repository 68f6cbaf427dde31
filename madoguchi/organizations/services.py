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


# The four links of the residents' footer (利用規約, 個人情報の取扱い, アクセシビリティ, お問い合わせ) -----------------

FOOTER_LINK_FIELDS = ("terms_url", "privacy_url", "accessibility_url", "contact_url")
FOOTER_LINK_MAX_LENGTH = 300


class FooterLinkError(ValueError):
    """A footer link refused; the message is Japanese, for the organization's admin."""


def check_footer_link(value: str) -> str:
    """Return the link to store: "" (use this system's own page), an https:// address or a path of this
    site ("/…"), stripped of surrounding spaces.

    Raises FooterLinkError (Japanese message) for anything else: http://, javascript:, "//host/…" (another
    site), a relative path, spaces or control characters inside, or more than 300 characters. Residents
    follow these links from every page of the organization, so only a secure or a same-site target is kept.
    """
    import unicodedata
    from urllib.parse import urlsplit

    text = value.strip()
    if not text:
        return ""
    if len(text) > FOOTER_LINK_MAX_LENGTH:
        raise FooterLinkError(f"{FOOTER_LINK_MAX_LENGTH}文字以内で入力してください。")
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zs") for c in text):
        raise FooterLinkError("空白や見えない文字を含まないアドレスを入力してください。")
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    parts = urlsplit(text)
    if parts.scheme.lower() == "https" and parts.hostname and "\\" not in text:
        return text
    raise FooterLinkError(
        "「https://」で始まるアドレスか、このサイトのページ（「/」で始まるパス）を入力してください。"
    )


@transaction.atomic
def save_footer_links(*, organization, actor, **links: str) -> Organization:
    """Set the footer links of `organization` (keywords: terms_url, privacy_url, accessibility_url,
    contact_url; "" falls back to this system's own page). Each is checked with check_footer_link (raises
    FooterLinkError, nothing saved). Audited with the old and new values of the links that changed.
    """
    from madoguchi.audit import services as audit

    unknown = set(links) - set(FOOTER_LINK_FIELDS)
    if unknown:
        raise TypeError(f"unknown footer links: {sorted(unknown)}")
    cleaned = {name: check_footer_link(value) for name, value in links.items()}
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    before = {name: getattr(organization, name) for name in cleaned}
    changed = [name for name in cleaned if before[name] != cleaned[name]]
    if not changed:
        return organization
    for name in changed:
        setattr(organization, name, cleaned[name])
    organization.save(update_fields=changed)
    audit.record(
        organization=organization,
        actor=actor,
        action="organization.footer_links",
        obj=organization,
        detail={
            "before": {name: before[name] for name in changed},
            "after": {name: cleaned[name] for name in changed},
        },
    )
    return organization
