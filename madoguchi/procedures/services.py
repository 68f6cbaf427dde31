from django.db import transaction
from django.db.models import Max

from madoguchi.audit import services as audit
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
