"""Every reference between organization-owned rows stays inside its organization (madoguchi/lib/integrity.py).

鳥取市, 米子市 and 鳥取県 each have a 所属, a published procedure with its form version and a submission. Each
guarded reference is written through the ORM (no service in between) from a row of one organization to a
row of another: the database refuses it, on SQLite and on PostgreSQL. The services refuse the same in
Japanese, and the operator's admin shows a form error instead of failing.
"""

import datetime
import json
import re
import secrets

import pytest
from django.apps import apps
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.accounts.models import Membership, Role
from madoguchi.audit import services as audit
from madoguchi.audit.models import AuditLog
from madoguchi.lib import integrity, tenancy
from madoguchi.notifications import services as notify
from madoguchi.notifications.models import EmailVerification, OutgoingEmail
from madoguchi.organizations.models import Department, Organization
from madoguchi.procedures import services as procedures
from madoguchi.procedures.models import FormVersion, Procedure, ProcedureTemplate
from madoguchi.stats.models import DailyCount, StatusCount
from madoguchi.submissions import services
from madoguchi.submissions.models import (
    AnswerRevision,
    Attachment,
    ExportFile,
    Note,
    StagedUpload,
    StatusChange,
    Submission,
    SubmissionDraft,
)
from tests.conftest import SIGNUP_SCHEMA, make_procedure, make_submission

pytestmark = pytest.mark.django_db


class World:
    """One 所属, published procedure, form version and submission per organization."""

    def __init__(self, council, organizations):
        self.council = council
        self.organizations = organizations
        self.department, self.procedure, self.version, self.submission = {}, {}, {}, {}
        for organization in organizations:
            procedure = make_procedure(organization, title=f"{organization.name}の教室")
            self.department[organization] = procedure.department
            self.procedure[organization] = procedure
            self.version[organization] = procedure.current_version
            self.submission[organization] = make_submission(procedure).submission


@pytest.fixture
def world(council, pref, tottori, yonago):
    return World(council, [tottori, yonago, pref])


def _unique() -> str:
    return secrets.token_hex(8)


def _day() -> datetime.date:
    return datetime.date(2001, 1, 1) + datetime.timedelta(days=secrets.randbelow(3000))


# Each write makes a row of `mine` refer to the row of `theirs` (another organization, or the same).
WRITES = {
    "Procedure.department (new procedure)": lambda w, mine, theirs: Procedure.objects.create(
        organization=mine, department=w.department[theirs], title="所属の確認"
    ),
    "Procedure.department (changed)": lambda w, mine, theirs: _change(
        w.procedure[mine], department=w.department[theirs]
    ),
    "Procedure.current_version": lambda w, mine, theirs: _change(
        w.procedure[mine], current_version=w.version[theirs]
    ),
    "FormVersion.procedure": lambda w, mine, theirs: FormVersion.objects.create(
        organization=mine, procedure=w.procedure[theirs], number=99, schema=w.version[theirs].schema
    ),
    "ProcedureTemplate.procedure": lambda w, mine, theirs: ProcedureTemplate.objects.create(
        council=w.council,
        organization=mine,
        procedure=w.procedure[theirs],
        title="ひな形",
        kind="signup",
        category="event",
        definition={},
    ),
    "Submission.form_version": lambda w, mine, theirs: _submission(
        mine, procedure=w.procedure[mine], version=w.version[theirs]
    ),
    "Submission.procedure": lambda w, mine, theirs: _submission(
        mine, procedure=w.procedure[theirs], version=w.version[theirs]
    ),
    "Submission.form_version (changed)": lambda w, mine, theirs: _change(
        w.submission[mine], form_version=w.version[theirs], procedure=w.procedure[theirs]
    ),
    "StatusChange.submission": lambda w, mine, theirs: StatusChange.objects.create(
        organization=mine,
        submission=w.submission[theirs],
        to_status="in_review",
        actor_kind="staff",
        created_at=timezone.now(),
    ),
    "Note.submission": lambda w, mine, theirs: Note.objects.create(
        organization=mine, submission=w.submission[theirs], body="確認済み"
    ),
    "Note.submission (changed)": lambda w, mine, theirs: _change(
        Note.objects.create(organization=mine, submission=w.submission[mine], body="確認済み"),
        submission=w.submission[theirs],
    ),
    "Attachment.submission": lambda w, mine, theirs: Attachment.objects.create(
        organization=mine,
        submission=w.submission[theirs],
        field_key="doc",
        storage_key=_unique(),
        file="uploads/x",
        original_name="書類.pdf",
        content_type="application/pdf",
        size=1,
    ),
    "AnswerRevision.submission": lambda w, mine, theirs: AnswerRevision.objects.create(
        organization=mine, submission=w.submission[theirs], answers_data={}, replaced_at=timezone.now()
    ),
    "StagedUpload.procedure": lambda w, mine, theirs: StagedUpload.objects.create(
        organization=mine,
        procedure=w.procedure[theirs],
        session_key_hash="0" * 64,
        storage_key=_unique(),
        file="uploads/x",
        original_name="書類.pdf",
        content_type="application/pdf",
        size=1,
    ),
    "ExportFile.procedure": lambda w, mine, theirs: ExportFile.objects.create(
        organization=mine, procedure=w.procedure[theirs], storage_key=_unique()
    ),
    "OutgoingEmail.submission": lambda w, mine, theirs: OutgoingEmail.objects.create(
        organization=mine, submission=w.submission[theirs], kind="status", to="a@example.jp", subject="件名"
    ),
    "DailyCount.procedure": lambda w, mine, theirs: DailyCount.objects.create(
        organization=mine, procedure=w.procedure[theirs], day=_day(), fiscal_year=2001, count=1
    ),
    "StatusCount.procedure": lambda w, mine, theirs: StatusCount.objects.create(
        organization=mine, procedure=w.procedure[theirs], status=_unique(), count=1
    ),
    "Membership.departments": lambda w, mine, theirs: _membership(mine).departments.add(w.department[theirs]),
    "Membership.departments (changed)": lambda w, mine, theirs: _change(
        Membership.departments.through.objects.get(membership=_membership(mine, w.department[mine])),
        department=w.department[theirs],
    ),
    "SubmissionDraft.procedure": lambda w, mine, theirs: _draft(mine, procedure=w.procedure[theirs]),
    "SubmissionDraft.form_version": lambda w, mine, theirs: _draft(
        mine, procedure=w.procedure[mine], version=w.version[theirs]
    ),
    "EmailVerification.procedure": lambda w, mine, theirs: EmailVerification.objects.create(
        organization=mine,
        procedure=w.procedure[theirs],
        email="a@example.jp",
        token_hash=_unique(),
        created_at=timezone.now(),
        expires_at=timezone.now(),
    ),
    "AuditLog (a submission)": lambda w, mine, theirs: _audit(mine, w.submission[theirs]),
    "AuditLog (a procedure)": lambda w, mine, theirs: _audit(mine, w.procedure[theirs]),
    "AuditLog (a form version)": lambda w, mine, theirs: _audit(mine, w.version[theirs]),
    "AuditLog (a 所属)": lambda w, mine, theirs: _audit(mine, w.department[theirs]),
}
# The other side: a referenced row moved to another organization while rows refer to it.
MOVES = {
    "Department.organization": lambda w, mine, theirs: _change(w.department[theirs], organization=mine),
    "Procedure.organization": lambda w, mine, theirs: _change(w.procedure[theirs], organization=mine),
    "FormVersion.organization": lambda w, mine, theirs: _change(w.version[theirs], organization=mine),
    "Submission.organization": lambda w, mine, theirs: _change(w.submission[theirs], organization=mine),
    "Membership.organization": lambda w, mine, theirs: _change(
        _membership(theirs, w.department[theirs]), organization=mine
    ),
}


def _change(row, **values):
    """Save the given fields of a fresh copy of the row (a refused change leaves the world as it was)."""
    row = type(row).objects.get(pk=row.pk)
    for name, value in values.items():
        setattr(row, name, value)
    row.save(update_fields=list(values))
    return row


def _membership(organization, *departments):
    user = get_user_model().objects.create_user(f"staff-{_unique()}")
    membership = Membership.objects.create(user=user, organization=organization, role=Role.PROCESSOR)
    membership.departments.set(departments)
    return membership


def _submission(organization, *, procedure, version):
    return Submission.objects.create(
        organization=organization,
        procedure=procedure,
        form_version=version,
        receipt_number=_unique()[:10],
        inquiry_code_hash="0" * 64,
        token=_unique(),
        submitted_at=timezone.now(),
    )


def _draft(organization, *, procedure, version=None):
    return SubmissionDraft.objects.create(
        organization=organization,
        procedure=procedure,
        form_version=version or procedure.current_version,
        token_hash=_unique(),
        expires_at=timezone.now(),
    )


def _audit(organization, obj):
    return AuditLog.objects.create(
        organization=organization,
        actor_label="システム",
        action="submission.view",
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
    )


def database_takes(write) -> bool:
    """True if the database takes the write (undone at once), False if an organization guard refuses it."""
    try:
        with transaction.atomic():
            write()
            transaction.set_rollback(True)
    except IntegrityError as exc:
        assert integrity.REFUSED in str(exc), exc
        return False
    return True


# The database ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", sorted(WRITES))
def test_the_database_refuses_a_reference_to_another_organization(world, tottori, yonago, reference):
    write = WRITES[reference]
    assert not database_takes(lambda: write(world, yonago, tottori))
    assert not database_takes(lambda: write(world, tottori, yonago))
    assert database_takes(lambda: write(world, yonago, yonago))


@pytest.mark.parametrize("move", sorted(MOVES))
def test_a_referenced_row_cannot_move_to_another_organization(world, tottori, yonago, move):
    assert not database_takes(lambda: MOVES[move](world, yonago, tottori))
    assert database_takes(lambda: MOVES[move](world, tottori, tottori))


def test_a_row_nothing_refers_to_may_move(world, tottori, yonago):
    spare = Department.objects.create(organization=tottori, name="予備の課")
    _change(spare, organization=yonago)
    assert Department.objects.get(pk=spare.pk).organization == yonago


def test_the_reported_case_a_yonago_procedure_given_a_tottori_department(world, tottori, yonago):
    procedure = world.procedure[yonago]
    procedure.department = world.department[tottori]
    with pytest.raises(IntegrityError, match=r"procedures_procedure\.department_id"), transaction.atomic():
        procedure.save()
    assert Procedure.objects.get(pk=procedure.pk).department == world.department[yonago]


def test_what_may_cross_organizations_still_does(world, pref, tottori):
    """A prefecture's procedure distributed to a municipality; a library template; an entry of no one."""
    copy = Procedure.objects.create(
        organization=tottori, title="配布された手続", source_procedure=world.procedure[pref]
    )
    assert copy.source_procedure == world.procedure[pref]
    ProcedureTemplate.objects.create(
        council=world.council, organization=None, procedure=world.procedure[pref], title="ひな形",
        kind="signup", category="event", definition={},
    )  # fmt: skip
    _audit(None, world.submission[tottori])
    # An entry may name an object deleted since, or one that is not a row at all.
    AuditLog.objects.create(
        organization=tottori,
        actor_label="x",
        action="x",
        object_type="submissions.submission",
        object_id="999999",
    )
    AuditLog.objects.create(
        organization=tottori, actor_label="x", action="x", object_type="auth.user", object_id="1"
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_write_is_taken_exactly_when_both_rows_are_of_one_organization(world, data):
    kind = data.draw(st.sampled_from(["write", "move"]))
    writes = WRITES if kind == "write" else MOVES
    name = data.draw(st.sampled_from(sorted(writes)))
    mine = data.draw(st.sampled_from(world.organizations))
    theirs = data.draw(st.sampled_from(world.organizations))
    assert database_takes(lambda: writes[name](world, mine, theirs)) == (mine == theirs)


def test_every_reference_between_organization_owned_rows_is_guarded_or_allowed_to_cross():
    """A foreign key added later between two organization-owned models must be decided on here."""
    allowed_to_cross = {
        ("procedures.Procedure", "source_procedure"),  # a prefecture distributes to its municipalities
        ("procedures.Procedure", "source_template"),  # a council's template, copied by any member
    }
    guarded_otherwise = {
        ("submissions.Submission", "procedure"),  # by form_version's guard (the version's own procedure)
    }
    owned = {
        model
        for model in apps.get_models()
        if any(f.name == "organization" and f.related_model is Organization for f in model._meta.fields)
    }
    guarded = {(r.model, r.field) for r in integrity.REFERENCES}
    found = {
        (model._meta.label, field.name)
        for model in owned
        for field in [*model._meta.fields, *model._meta.many_to_many]
        if field.is_relation and field.name != "organization" and field.related_model in owned
    }
    assert found - guarded - allowed_to_cross - guarded_otherwise == set()
    assert guarded <= found


def test_each_postgresql_guard_reads_the_rows_by_primary_key_alone():
    """A look-up that also named the organization was planned on submissions' sub_counts index (organization
    first), reading every submission of the organization on each submit: a check that grew with the table."""
    functions = integrity._postgresql_triggers(apps, connection.ops.quote_name, integrity.REFERENCES)[0]
    reads = [line.strip() for function in functions for line in function.splitlines() if " INTO " in line]
    pairs = sum(
        1 for r in integrity.REFERENCES if apps.get_model(r.model)._meta.get_field(r.field).many_to_many
    )
    assert pairs == 2  # a staff member's 所属, an indicator's procedures
    assert len(reads) == len(integrity.REFERENCES) + pairs + len(
        integrity.AUDITED
    )  # a table of pairs reads two
    for read in reads:
        assert re.search(
            r' WHERE t\."id" = (NEW\.\w+|NEW\."\w+")(::bigint)?;$| WHERE s\."id" = NEW\."\w+";$', read
        ), read


def test_every_guard_is_installed():
    assert integrity.installed(connection) == integrity.expected(connection)


def test_rows_written_through_the_services_cross_nothing(world, colleague, tottori):
    submission = world.submission[tottori]
    services.transition(submission=submission, to_status="in_review", actor=colleague)
    services.add_note(submission=submission, author=colleague, body="確認しました")
    assert integrity.violations(connection) == []


def test_guards_can_be_removed_and_put_back_and_refuse_to_go_in_over_crossing_rows(world, tottori, yonago):
    with tenancy.as_table_owner():  # removing and installing triggers is the owner's work
        editor = (
            connection.schema_editor()
        )  # not entered: SQLite allows no schema editor inside a test's transaction
        integrity.uninstall(editor)
        assert integrity.installed(connection) == set()
        procedure = world.procedure[yonago]
        _change(procedure, department=world.department[tottori])  # taken: no guard now

        with pytest.raises(RuntimeError, match=f"procedures_procedure id {procedure.pk}: department_id"):
            integrity.install(editor)
        assert integrity.installed(connection) == set()

        _change(procedure, department=world.department[yonago])
        integrity.install(editor)
        assert integrity.installed(connection) == integrity.expected(connection)
        assert not database_takes(lambda: _change(procedure, department=world.department[tottori]))


@pytest.mark.database("sqlite")
@pytest.mark.django_db(transaction=True)
def test_a_later_migration_that_rebuilds_a_table_on_sqlite_keeps_every_guard(pref, tottori, yonago):
    """Django alters a SQLite table by building a new one: the guards on it, and on the tables that name
    it, are kept (madoguchi/lib/sqlite)."""
    old = Procedure._meta.get_field("title")
    wider = models.CharField("手続名", max_length=old.max_length + 1)
    wider.set_attributes_from_name("title")
    wider.model = Procedure
    with connection.schema_editor() as editor:
        editor.alter_field(Procedure, old, wider)
    try:
        assert integrity.installed(connection) == integrity.expected(connection)
        department = Department.objects.create(organization=tottori, name="市民課")
        with pytest.raises(IntegrityError, match=integrity.REFUSED):
            Procedure.objects.create(organization=yonago, department=department, title="確認")
    finally:
        with connection.schema_editor() as editor:
            editor.alter_field(Procedure, wider, old)
    assert integrity.installed(connection) == integrity.expected(connection)


# The services ---------------------------------------------------------------------------------------


def test_the_builder_refuses_a_department_of_another_organization_in_japanese(world, owner, tottori, yonago):
    message = "担当所属は、同じ団体の所属から選んでください。"
    with pytest.raises(procedures.ProcedureError, match=message):
        procedures.create_procedure(
            organization=tottori,
            actor=owner,
            title="転入届",
            kind="notification",
            department=world.department[yonago],
        )
    with pytest.raises(procedures.ProcedureError, match=message):
        procedures.update_procedure_settings(
            procedure=world.procedure[tottori], actor=owner, values={"department": world.department[yonago]}
        )
    template = ProcedureTemplate.objects.create(
        council=world.council, title="ひな形", kind="signup", category="event", definition={}
    )
    with pytest.raises(procedures.ProcedureError, match=message):
        procedures.copy_template(
            template=template, organization=tottori, actor=owner, department=world.department[yonago]
        )
    assert Procedure.objects.get(pk=world.procedure[tottori].pk).department == world.department[tottori]


def test_a_submission_with_the_form_of_another_organizations_procedure_is_refused_in_japanese(
    world, tottori, yonago
):
    before = Submission.objects.count()
    with pytest.raises(
        services.OtherOrganization, match="この入力フォームは、この手続のものではありません。"
    ) as caught:
        services.submit(
            procedure=world.procedure[tottori],
            version=world.version[yonago],
            answers={},
            staged_files={},
            token=_unique(),
        )
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, services.SubmissionError)
    assert Submission.objects.count() == before


def test_a_file_staged_for_another_organizations_procedure_is_not_attached(world, tottori, yonago):
    staged = StagedUpload.objects.create(
        organization=yonago,
        procedure=world.procedure[yonago],
        session_key_hash="0" * 64,
        storage_key=_unique(),
        file="uploads/x",
        original_name="書類.pdf",
        content_type="application/pdf",
        size=1,
    )
    with pytest.raises(services.OtherOrganization, match="添付ファイルの情報が正しくありません"):
        services.submit(
            procedure=world.procedure[tottori],
            version=world.version[tottori],
            answers={},
            staged_files={"doc": staged},
            token=_unique(),
        )
    assert StagedUpload.objects.filter(pk=staged.pk).exists()
    assert not Attachment.objects.exists()


def test_an_audit_entry_or_email_for_another_organizations_submission_is_refused_in_japanese(
    world, tottori, yonago
):
    message = "別の団体のデータは指定できません。"
    with pytest.raises(integrity.OtherOrganizationError, match=message):
        audit.record(organization=yonago, actor=None, action="submission.view", obj=world.submission[tottori])
    with pytest.raises(integrity.OtherOrganizationError, match=message):
        notify.queue_email(
            organization_id=yonago.pk, submission=world.submission[tottori], kind="status", to="a@example.jp",
            subject="件名", body="本文",
        )  # fmt: skip
    # Objects that are not an organization's own are recorded under any organization.
    audit.record(organization=yonago, actor=None, action="staff.role", obj=get_user_model()(pk=1))


# The operator's admin -------------------------------------------------------------------------------


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_superuser("operator", "op@example.jp", "pw-operator-2026")
    client.force_login(user)
    return user


def _form_data(form) -> dict:
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, AdminSplitDateTime):
            data[f"{name}_0"] = data[f"{name}_1"] = ""
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    return data


def test_admin_offers_only_the_procedures_own_departments_and_refuses_another(
    client, operator, world, tottori, yonago
):
    procedure = world.procedure[yonago]
    Department.objects.create(organization=tottori, name="市民課", phone="0857-20-3111")
    url = reverse("admin:procedures_procedure_change", args=[procedure.pk])
    form = client.get(url).context["adminform"].form
    assert "organization" not in form.fields  # shown, not editable: the procedure stays in 米子市
    assert set(form.fields["department"].queryset) == {world.department[yonago]}

    data = _form_data(form)
    data["department"] = world.department[tottori].pk
    response = client.post(url, data)
    assert response.status_code == 200
    assert "担当所属は、この手続の団体の所属から選んでください。" in response.content.decode()
    assert Procedure.objects.get(pk=procedure.pk).department == world.department[yonago]

    data["department"] = world.department[yonago].pk
    assert client.post(url, data).status_code == 302


def test_admin_new_procedure_with_a_department_of_another_organization_is_a_form_error(
    client, operator, world, tottori, yonago
):
    url = reverse("admin:procedures_procedure_add")
    page = client.get(url)
    labels = [label for _, label in page.context["adminform"].form.fields["department"].choices]
    assert "鳥取市　生涯学習課" in labels and "米子市　生涯学習課" in labels  # organization not chosen yet
    narrowed = client.get(url, {"organization": yonago.pk}).context["adminform"].form
    assert set(narrowed.fields["department"].queryset) == {world.department[yonago]}

    data = _form_data(page.context["adminform"].form)
    data.update(
        organization=yonago.pk,
        department=world.department[tottori].pk,
        title="新しい手続",
        kind="application",
        status="draft",
        retention_years=5,
        form_schema=json.dumps(SIGNUP_SCHEMA, ensure_ascii=False),
    )
    count = Procedure.objects.count()
    response = client.post(url, data)
    assert response.status_code == 200
    assert "担当所属は、この手続の団体の所属から選んでください。" in response.content.decode()
    assert Procedure.objects.count() == count

    data["department"] = world.department[yonago].pk
    assert client.post(url, data).status_code == 302
    assert Procedure.objects.get(title="新しい手続").department == world.department[yonago]


def test_admin_does_not_move_a_department_its_procedures_use(client, operator, world, tottori, yonago):
    department = world.department[tottori]
    url = reverse("admin:organizations_department_change", args=[department.pk])
    data = {"organization": yonago.pk, "name": department.name, "phone": "", "email": ""}
    response = client.post(url, data)
    assert response.status_code == 200
    assert "団体を変更できません" in response.content.decode()
    assert Department.objects.get(pk=department.pk).organization == tottori

    staffed = Department.objects.create(organization=tottori, name="職員のいる課")
    _membership(tottori, staffed)
    url = reverse("admin:organizations_department_change", args=[staffed.pk])
    response = client.post(url, {**data, "name": staffed.name})
    assert "職員1人の所属になっているため、団体を変更できません" in response.content.decode()

    spare = Department.objects.create(organization=tottori, name="予備の課")
    url = reverse("admin:organizations_department_change", args=[spare.pk])
    assert client.post(url, {**data, "name": spare.name}).status_code == 302
    assert Department.objects.get(pk=spare.pk).organization == yonago
