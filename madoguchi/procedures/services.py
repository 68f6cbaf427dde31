from datetime import date, datetime

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone, translation
from django.utils.translation import gettext

from madoguchi.audit import services as audit
from madoguchi.lib import japanese as ja
from madoguchi.lib import tenancy
from madoguchi.lib.timeutil import JST
from madoguchi.procedures import builder, portable
from madoguchi.procedures.formspec import parse_form_spec
from madoguchi.procedures.models import FormVersion, Procedure


@transaction.atomic
def save_form_version(*, procedure: Procedure, schema: dict, actor=None) -> FormVersion:
    """Validate `schema` and store it as the procedure's next version, which becomes current.

    Raises FormSpecError with Japanese messages. Earlier versions are never changed, so every
    submission keeps the labels it was made with.
    """
    spec = parse_form_spec(schema)
    procedure = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if procedure.current_version_id and procedure.current_version.schema == spec.model_dump(mode="json"):
        return procedure.current_version
    last = procedure.versions.aggregate(n=Max("number"))["n"] or 0
    version = FormVersion.objects.create(
        organization_id=procedure.organization_id,
        procedure=procedure,
        number=last + 1,
        schema=spec.model_dump(mode="json"),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    procedure.current_version = version
    procedure.save(update_fields=["current_version", "updated_at"])
    audit.record(
        organization=procedure.organization,
        actor=actor,
        action="procedure.publish",
        obj=procedure,
        detail={"version": version.number},
    )
    return version


@transaction.atomic
def set_procedure_status(*, procedure: Procedure, status: str, actor=None) -> Procedure:
    old = procedure.status
    if old == status:
        return procedure
    procedure.status = status
    procedure.save(update_fields=["status", "updated_at"])
    audit.record(
        organization=procedure.organization,
        actor=actor,
        action="procedure.status",
        obj=procedure,
        detail={"from": old, "to": status},
    )
    return procedure


# The builder ---------------------------------------------------------------------------------------
# Every change a member of staff makes to a procedure goes through one of these functions.

SETTINGS_FIELDS = (
    "title", "title_en", "kind", "department", "summary", "summary_en", "purpose", "opens_at", "closes_at",
    "retention_years", "notify_emails", "send_receipt_email", "capacity", "category",
    "standard_processing_days", "life_events", "title_reading", "draft_days", "requires_email_verification",
    "duplicate_rule", "duplicate_field",
)  # fmt: skip


class ProcedureError(ValueError):
    """A builder action refused; the message is Japanese and meant for the member of staff."""


class DraftConflict(ProcedureError):
    """The draft was changed by someone else since the page was loaded; nothing was saved."""


def _check_department(organization, department, actor=None):
    """The department a procedure may be given by `actor`: of the same organization, and, for a member
    limited to their 所属 (accounts/access.py), one of theirs — when none is given, their first by name, so a
    procedure they create never falls out of their own reach. Returns the department (or None).

    Raises ProcedureError (Japanese) for a department of another organization or outside the actor's 所属.
    """
    if department is not None and department.organization_id != organization.pk:
        raise ProcedureError(gettext("担当所属は、同じ団体の所属から選んでください。"))
    if actor is None or not getattr(actor, "is_authenticated", False):
        return department
    from madoguchi.accounts import access

    allowed = access.departments_for_user(actor, organization)
    if not access.is_limited_to_departments(actor, organization):
        return department
    if department is None:
        department = allowed.first()
        if department is None:
            raise ProcedureError(
                gettext(
                    "所属が決まっていないため、手続を作れません。団体の管理者に所属の設定を頼んでください。"
                )
            )
    elif not allowed.filter(pk=department.pk).exists():
        raise ProcedureError(gettext("担当所属は、あなたの所属から選んでください。"))
    return department


def _settings_detail(procedure: Procedure, values: dict) -> dict:
    """The settings that change, each {"from", "to"} as the audit page reads them (audit/sentences.readable):
    booleans and numbers kept as such, times as JST text to the minute, rows by their name. A time that
    differs only in its seconds is not a change (the form's input has minutes only)."""
    changed = {}
    for name, new in values.items():
        old = getattr(procedure, name)
        if isinstance(old, datetime) and isinstance(new, datetime):
            if old.replace(second=0, microsecond=0) == new.replace(second=0, microsecond=0):
                continue
        if old != new:
            changed[name] = {"from": _audit_value(old), "to": _audit_value(new)}
    return changed


def _audit_value(value):
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value, JST).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_audit_value(v) for v in value]
    return str(value)


@transaction.atomic
def create_procedure(*, organization, actor, title: str, kind: str, **settings) -> Procedure:
    """A new procedure in `organization`, not yet published, with an empty draft form.

    `settings` are any of SETTINGS_FIELDS. Raises ProcedureError for a department of another organization.
    """
    unknown = set(settings) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    settings["department"] = _check_department(organization, settings.get("department"), actor)
    procedure = Procedure.objects.create(
        organization=organization, title=title, kind=kind, draft_schema=builder.EMPTY_FORM, **settings
    )
    audit.record(
        organization=organization,
        actor=actor,
        action="procedure.create",
        obj=procedure,
        detail={"title": title},
    )
    return procedure


@transaction.atomic
def update_procedure_settings(*, procedure: Procedure, actor, values: dict) -> Procedure:
    """Change the procedure's settings (title, department, reception window…); audited with old and new.

    Times are aware datetimes (stored UTC). Raises ProcedureError for a department of another organization.
    """
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    procedure = Procedure.objects.select_for_update().select_related("organization").get(pk=procedure.pk)
    if "department" in values:
        values = {
            **values,
            "department": _check_department(procedure.organization, values["department"], actor),
        }
    capacity = values.get("capacity")
    if capacity is not None and capacity < procedure.seats_taken:
        raise ProcedureError(
            f"定員は、すでに申し込まれた数（{procedure.seats_taken}人）より少なくできません。"
        )
    changed = _settings_detail(procedure, values)
    if not changed:
        return procedure
    for name, value in values.items():
        setattr(procedure, name, value)
    procedure.save()
    audit.record(
        organization=procedure.organization,
        actor=actor,
        action="procedure.settings",
        obj=procedure,
        detail={"changed": changed},
    )
    return procedure


def draft_of(procedure: Procedure) -> dict:
    """The form the builder edits: the draft if there is one, else a copy of the published version."""
    if procedure.draft_schema is not None:
        return procedure.draft_schema
    if procedure.current_version_id:
        return procedure.current_version.schema
    return builder.EMPTY_FORM


@transaction.atomic
def save_draft(*, procedure: Procedure, schema: dict, actor, revision: int | None, change: str) -> Procedure:
    """Store `schema` as the procedure's draft, if nobody else saved one since `revision` was read.

    `change` describes the edit in Japanese for the audit log. The draft need not be publishable yet (it is
    checked field by field as it is edited, and as a whole on publishing). Raises DraftConflict.
    """
    locked = Procedure.objects.select_for_update().select_related("organization").get(pk=procedure.pk)
    if revision is not None and locked.draft_revision != revision:
        raise DraftConflict(
            "ほかの人（または別の画面）がこのフォームを先に変更しました。この画面の変更はまだ保存されていません。"
            "最新の内容を確かめてから、もう一度保存してください。"
        )
    locked.draft_schema = schema
    locked.draft_revision += 1
    locked.save(update_fields=["draft_schema", "draft_revision", "updated_at"])
    audit.record(
        organization=locked.organization,
        actor=actor,
        action="procedure.draft",
        obj=locked,
        detail={"change": change},
    )
    procedure.draft_schema, procedure.draft_revision = locked.draft_schema, locked.draft_revision
    return locked


def has_unpublished_changes(procedure: Procedure) -> bool:
    if procedure.draft_schema is None:
        return False
    if not procedure.current_version_id:
        return True
    return builder.describe_changes(procedure.current_version.schema, procedure.draft_schema) != []


@transaction.atomic
def publish(*, procedure: Procedure, actor) -> FormVersion:
    """Publish the draft as a new immutable version and open the procedure to residents.

    Raises FormSpecError (Japanese, per field) if the draft is not a complete form; nothing changes then.
    """
    # Only the procedure's row is locked: PostgreSQL cannot lock the nullable side of the outer join to
    # current_version (a procedure not yet published has none).
    procedure = (
        Procedure.objects.select_for_update(of=("self",))
        .select_related("organization", "current_version")
        .get(pk=procedure.pk)
    )
    version = save_form_version(procedure=procedure, schema=draft_of(procedure), actor=actor)
    procedure.refresh_from_db()
    procedure.draft_schema = None
    procedure.draft_revision += 1
    procedure.save(update_fields=["draft_schema", "draft_revision", "updated_at"])
    if procedure.status == Procedure.Status.DRAFT:
        set_procedure_status(procedure=procedure, status=Procedure.Status.PUBLISHED, actor=actor)
    return version


@transaction.atomic
def publish_earlier_version(*, procedure: Procedure, number: int, actor) -> FormVersion:
    """Publish version `number` again, as a new version (history is never rewritten). A draft is kept."""
    earlier = procedure.versions.filter(number=number).first()
    if earlier is None:
        raise ProcedureError("その版は見つかりません。")
    return save_form_version(procedure=procedure, schema=earlier.schema, actor=actor)


@transaction.atomic
def discard_draft(*, procedure: Procedure, actor) -> None:
    locked = Procedure.objects.select_for_update().select_related("organization").get(pk=procedure.pk)
    if not locked.current_version_id:
        raise ProcedureError("まだ公開していない手続は、下書きを取り消せません。")
    locked.draft_schema = None
    locked.draft_revision += 1
    locked.save(update_fields=["draft_schema", "draft_revision", "updated_at"])
    audit.record(organization=locked.organization, actor=actor, action="procedure.discard", obj=locked)


# Portable files and templates ---------------------------------------------------------------------


def _create_from_definition(
    *, organization, actor, definition, action: str, detail: dict, **links
) -> Procedure:
    section = definition.procedure
    links["department"] = _check_department(organization, links.get("department"), actor)
    procedure = Procedure.objects.create(
        organization=organization,
        title=section.title,
        title_en=section.title_en,
        kind=section.kind,
        summary=section.summary,
        summary_en=section.summary_en,
        purpose=section.purpose,
        retention_years=section.retention_years,
        capacity=section.capacity,
        send_receipt_email=section.send_receipt_email,
        category=section.category,
        draft_schema=definition.form.model_dump(mode="json"),
        **links,
    )
    audit.record(organization=organization, actor=actor, action=action, obj=procedure, detail=detail)
    return procedure


@transaction.atomic
def import_procedure(*, organization, actor, data: bytes, filename: str = "") -> Procedure:
    """Create a draft procedure in `organization` from a portable file (procedures/portable.py).

    Raises DefinitionError listing every problem; nothing is created then.
    """
    definition = portable.loads(data)
    return _create_from_definition(
        organization=organization,
        actor=actor,
        definition=definition,
        action="procedure.import",
        detail={"file": filename[:200]},
    )


def export_procedure(procedure: Procedure) -> dict:
    """The portable document of the procedure's form as the builder has it (the draft, if any)."""
    return portable.definition_document(procedure, draft_of(procedure))


def _template_search_text(title: str, summary: str, form: dict, category: str = "", life_events=()) -> str:
    """Title, summary, labels, and the names of its category and life events (防災 finds 罹災証明書)."""
    from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS

    labels = " ".join(str(f.get("label", "")) for f in form.get("fields", []))
    with translation.override("ja"):
        names = " ".join(
            str(name)
            for name in [
                dict(CATEGORIES).get(category, ""),
                *(dict(LIFE_EVENTS).get(e, "") for e in life_events),
            ]
        )
    return ja.search_fold(f"{title} {summary} {labels} {names}")


@transaction.atomic
def share_as_template(*, procedure: Procedure, council, actor, category: str, life_events: list[str]):
    """Share the procedure's published form with the council's members as a template.

    Shared again later, the same template is updated. Raises ProcedureError if nothing is published yet or
    the organization is not a member of the council.
    """
    from madoguchi.procedures.models import CATEGORIES, LIFE_EVENTS, ProcedureTemplate

    if not procedure.current_version_id:
        raise ProcedureError("ひな形にできるのは公開した手続だけです。先に公開してください。")
    if not council.members.filter(pk=procedure.organization_id).exists():
        raise ProcedureError("加入していない協議会には共有できません。")
    if category not in dict(CATEGORIES):
        raise ProcedureError("分類を選んでください。")
    life_events = [e for e in dict(LIFE_EVENTS) if e in life_events]
    document = portable.definition_document(procedure, procedure.current_version.schema)
    document["procedure"]["category"] = category
    document["procedure"]["life_events"] = life_events
    values = {
        "organization": procedure.organization,
        "title": procedure.title,
        "summary": procedure.summary,
        "kind": procedure.kind,
        "category": category,
        "life_events": life_events,
        "definition": document,
        "search_text": _template_search_text(
            procedure.title, procedure.summary, document["form"], category, life_events
        ),
        "shared_by": actor if getattr(actor, "is_authenticated", False) else None,
    }
    template, created = ProcedureTemplate.objects.update_or_create(
        council=council, procedure=procedure, defaults=values
    )
    audit.record(
        organization=procedure.organization,
        actor=actor,
        action="procedure.share",
        obj=procedure,
        detail={"council": council.name, "template": template.pk, "updated": not created},
    )
    return template


@transaction.atomic
def save_library_template(*, council, document: dict, organization=None):
    """Add or update a template of the council's library from a portable document (the bundled library).

    Keyed by title. Raises DefinitionError.
    """
    from madoguchi.procedures.models import ProcedureTemplate

    definition = portable.parse_definition(document)
    section = definition.procedure
    normalized = portable.normalized(definition)
    template, _ = ProcedureTemplate.objects.update_or_create(
        council=council,
        title=section.title,
        procedure=None,
        defaults={
            "organization": organization,
            "summary": section.summary,
            "kind": section.kind,
            "category": section.category or "survey",
            "life_events": list(section.life_events),
            "definition": normalized,
            "search_text": _template_search_text(
                section.title, section.summary, normalized["form"], section.category, section.life_events
            ),
        },
    )
    return template


@transaction.atomic
def copy_template(*, template, organization, actor, department=None) -> Procedure:
    """Copy a council template into `organization` as its own draft procedure, with its own department.

    Raises ProcedureError if the organization is not a member of the template's council, or the department
    belongs to another organization.
    """
    if not template.council.members.filter(pk=organization.pk).exists():
        raise ProcedureError("この協議会のひな形は、加入団体だけが使えます。")
    _check_department(organization, department)  # before reading the template: the plainer message first
    definition = portable.parse_definition(template.definition)
    procedure = _create_from_definition(
        organization=organization,
        actor=actor,
        definition=definition,
        action="procedure.copy_template",
        detail={"template": template.pk, "title": template.title},
        source_template=template,
        department=department,
    )
    type(template).objects.filter(pk=template.pk).update(copy_count=F("copy_count") + 1)
    return procedure


@transaction.atomic
def distribute(*, procedure: Procedure, organizations, actor) -> list[Procedure]:
    """The prefecture hands its published procedure to member municipalities: each gets its own draft copy,
    linked to the source so that later versions can be offered to it as updates.

    Organizations that already have a copy are skipped. Raises ProcedureError unless the procedure is
    published and every organization is a municipality of the procedure's prefecture.
    """
    if not procedure.current_version_id:
        raise ProcedureError("配布できるのは公開した手続だけです。先に公開してください。")
    organizations = list(organizations)
    if any(o.prefecture_id != procedure.organization_id for o in organizations):
        raise ProcedureError("配布できるのは、この県の市町村だけです。")
    have = set(
        Procedure.objects.filter(source_procedure=procedure, organization__in=organizations).values_list(
            "organization_id", flat=True
        )
    )
    definition = portable.parse_definition(
        portable.definition_document(procedure, procedure.current_version.schema)
    )
    copies = []
    # Each copy is recorded in its municipality's audit log: writes into the members, checked just above.
    with tenancy.including(o.pk for o in organizations):
        for organization in organizations:
            if organization.pk in have:
                continue
            copies.append(
                _create_from_definition(
                    organization=organization,
                    actor=actor,
                    definition=definition,
                    action="procedure.receive",
                    detail={"from": procedure.organization.name, "version": procedure.current_version.number},
                    source_procedure=procedure,
                    source_version_number=procedure.current_version.number,
                )
            )
    audit.record(
        organization=procedure.organization,
        actor=actor,
        action="procedure.distribute",
        obj=procedure,
        detail={"to": [o.name for o in organizations if o.pk not in have]},
    )
    return copies


def offered_update(procedure: Procedure) -> FormVersion | None:
    """The source's newer version offered to a distributed copy, or None."""
    source = procedure.source_procedure
    if source is None or source.current_version_id is None:
        return None
    version = source.current_version
    if procedure.source_version_number is not None and version.number <= procedure.source_version_number:
        return None
    return version


@transaction.atomic
def decide_update(*, procedure: Procedure, actor, number: int, accept: bool) -> Procedure:
    """Take the source's version `number` into this copy's draft (to review and publish), or leave it;
    either way it is no longer offered. Raises ProcedureError if that version is no longer on offer."""
    locked = Procedure.objects.select_for_update().select_related("organization").get(pk=procedure.pk)
    offer = offered_update(locked)
    if offer is None or offer.number != number:
        raise ProcedureError("この更新はもうありません。画面を開き直してください。")
    fields = ["source_version_number", "updated_at"]
    if accept:
        locked.draft_schema = offer.schema
        locked.draft_revision += 1
        fields += ["draft_schema", "draft_revision"]
    locked.source_version_number = offer.number
    locked.save(update_fields=fields)
    audit.record(
        organization=locked.organization,
        actor=actor,
        action="procedure.accept_update" if accept else "procedure.ignore_update",
        obj=locked,
        detail={"version": number},
    )
    return locked
