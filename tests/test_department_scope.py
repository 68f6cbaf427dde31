"""担当範囲: an admin limits a staff member to the procedures of their 所属.

Personas (tests/conftest.py): owner = admin of 鳥取市; the procedure belongs to 生涯学習課.
- clerk: processor of 鳥取市 in 市民課, limited to it: every staff URL of the 生涯学習課 procedure is a 404
  for them, exactly as for an outsider, while the procedures of 市民課 open as usual.
- colleague: processor of 鳥取市 without a limit: reaches everything of 鳥取市.
"""

import pytest
from django.core.files.base import ContentFile
from django.urls import get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.accounts import access, scope
from madoguchi.accounts.models import Membership, Role
from madoguchi.accounts.services import StaffError
from madoguchi.audit.models import AuditLog
from madoguchi.organizations.models import Department
from madoguchi.submissions.models import Attachment, ExportFile
from tests.conftest import make_procedure, make_submission, make_user

pytestmark = pytest.mark.django_db

OBJECT_KWARGS = ("procedure_id", "submission_id", "export_id")


def _staff_urls_of_objects() -> list[str]:
    """The staff URL names (madoguchi/urls.py) that name a procedure, a submission or an export file."""
    staff = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "staff")
    return sorted(
        p.name for p in staff.url_patterns if set(p.pattern.converters) & set(OBJECT_KWARGS) and p.name
    )


def _kwargs(name: str, objects: dict) -> dict:
    staff = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "staff")
    pattern = next(p for p in staff.url_patterns if p.name == name).pattern
    known = {
        "procedure_id": objects["procedure"].pk,
        "submission_id": objects["submission"].pk,
        "export_id": objects["export_file"].pk,
        "attachment_id": objects["attachment"].pk,
        "key": "name",
        "page_key": "page1",
        "action": "delete",
        "number": 1,
    }
    kwargs = {}
    for param, converter in pattern.converters.items():
        kwargs[param] = known.get(param, 1 if converter.regex == "[0-9]+" else "x")
    return kwargs


@pytest.fixture
def citizens(tottori):
    return Department.objects.create(organization=tottori, name="市民課")


@pytest.fixture
def clerk(tottori, citizens):
    user = make_user("clerk", tottori, Role.PROCESSOR)
    membership = Membership.objects.get(user=user)
    membership.departments.set([citizens])
    membership.limited_to_departments = True
    membership.save()
    return user


@pytest.fixture
def objects(procedure, submission):
    attachment = Attachment(
        organization=submission.organization,
        submission=submission,
        field_key="doc",
        storage_key="k" * 32,
        original_name="a.pdf",
        content_type="application/pdf",
        size=4,
    )
    attachment.file.save("k" * 32, ContentFile(b"%PDF"), save=False)
    attachment.save()
    export_file = ExportFile(
        organization=procedure.organization, procedure=procedure, storage_key="e" * 32, status="done", rows=1
    )
    export_file.file.save("e" * 32, ContentFile(b"PK"), save=False)
    export_file.save()
    return {
        "procedure": procedure,
        "submission": submission,
        "attachment": attachment,
        "export_file": export_file,
    }


def test_the_list_of_urls_is_not_empty():
    names = _staff_urls_of_objects()
    assert {"inbox", "submission", "transition", "attachment", "export_file", "builder"} <= set(names)


@pytest.mark.parametrize("name", _staff_urls_of_objects())
def test_limited_clerk_gets_404_outside_their_departments(client, clerk, objects, name):
    client.force_login(clerk)
    url = reverse(f"staff:{name}", kwargs=_kwargs(name, objects))
    answered = {}
    for method in ("get", "post"):
        response = getattr(client, method)(url, {"to": "in_review", "body": "x"})
        answered[method] = response.status_code
        if response.status_code == 404:
            assert "ページが見つかりません" in response.content.decode()
    # A method the URL does not take is refused (405) before anything is read; the one it takes is a 404.
    assert set(answered.values()) <= {404, 405} and 404 in answered.values(), (name, answered)


def test_limited_clerk_works_on_their_own_departments_procedure(client, clerk, tottori, citizens):
    own = make_procedure(tottori, title="住民票の写しの郵送請求")
    own.department = citizens
    own.save()
    submission = make_submission(own).submission
    client.force_login(clerk)
    assert client.get(reverse("staff:inbox", kwargs={"procedure_id": own.pk})).status_code == 200
    assert client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).status_code == 200
    assert client.get(reverse("staff:export", kwargs={"procedure_id": own.pk})).status_code == 200


def test_home_lists_only_their_departments_procedures(client, clerk, tottori, citizens, procedure):
    own = make_procedure(tottori, title="住民票の写しの郵送請求")
    own.department = citizens
    own.save()
    client.force_login(clerk)
    page = client.get(reverse("staff:home")).content.decode()
    assert "住民票の写しの郵送請求" in page
    assert procedure.title not in page


def test_a_procedure_without_department_is_out_of_a_limited_members_reach(client, clerk, procedure):
    procedure.department = None
    procedure.save()
    client.force_login(clerk)
    assert client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})).status_code == 404
    assert procedure.title not in client.get(reverse("staff:home")).content.decode()


def test_a_colleague_without_a_limit_reaches_every_procedure(client, colleague, objects):
    client.force_login(colleague)
    for name in ("inbox", "export"):
        response = client.get(reverse(f"staff:{name}", kwargs={"procedure_id": objects["procedure"].pk}))
        assert response.status_code == 200
    assert objects["procedure"].title in client.get(reverse("staff:home")).content.decode()


def test_an_admin_is_never_limited(client, owner, tottori, citizens, procedure):
    membership = Membership.objects.get(user=owner)
    membership.departments.set([citizens])
    # Stored False by the service whatever is asked...
    scope.set_department_limit(actor=owner, membership=membership, limited=True)
    membership.refresh_from_db()
    assert membership.limited_to_departments is False
    # ...and ignored by the access helpers even if set in the database by hand.
    Membership.objects.filter(pk=membership.pk).update(limited_to_departments=True)
    client.force_login(owner)
    assert client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})).status_code == 200
    assert access.procedures_for_user(owner).filter(pk=procedure.pk).exists()


def test_limited_member_in_one_organization_keeps_the_other_whole(clerk, yonago, tottori, procedure):
    """The limit belongs to one membership: in 米子市, where the clerk is not limited, all is reachable."""
    Membership.objects.create(user=clerk, organization=yonago, role=Role.PROCESSOR)
    theirs = make_procedure(yonago, title="米子市の講座")
    reachable = set(access.procedures_for_user(clerk).values_list("pk", flat=True))
    assert theirs.pk in reachable and procedure.pk not in reachable


def test_admin_limits_a_member_on_their_page_and_it_is_audited(client, owner, tottori, colleague, citizens):
    membership = Membership.objects.get(user=colleague)
    url = reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": membership.pk})
    client.force_login(owner)
    page = client.get(url).content.decode()
    assert "所属の手続だけに限る" in page
    response = client.post(
        url, {"role": "processor", "departments": [str(citizens.pk)], "limited_to_departments": "1"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.limited_to_departments is True
    entry = AuditLog.objects.get(action="staff.scope")
    assert entry.actor == owner and entry.detail["from"] is False and entry.detail["to"] is True
    # The page shows the limit as set; lifting it is recorded too.
    assert 'name="limited_to_departments" value="1" checked' in client.get(url).content.decode()
    log = client.get(reverse("staff:audit", kwargs={"code": tottori.code})).content.decode()
    assert "owner が colleague の担当範囲を「すべての手続」から「所属の手続だけ」に変更しました" in log
    client.post(url, {"role": "processor", "departments": [str(citizens.pk)]})
    membership.refresh_from_db()
    assert membership.limited_to_departments is False
    assert AuditLog.objects.filter(action="staff.scope").count() == 2


def test_saving_the_page_unchanged_records_nothing(client, owner, tottori, clerk, citizens):
    membership = Membership.objects.get(user=clerk)
    url = reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": membership.pk})
    client.force_login(owner)
    client.post(url, {"role": "processor", "departments": [str(citizens.pk)], "limited_to_departments": "1"})
    assert not AuditLog.objects.exclude(action__startswith="auth.").exists()


def test_limiting_a_member_with_no_department_is_refused_and_nothing_is_saved(
    client, owner, tottori, colleague
):
    membership = Membership.objects.get(user=colleague)
    url = reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": membership.pk})
    client.force_login(owner)
    response = client.post(url, {"role": "viewer", "limited_to_departments": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "どの手続も開けなくなります" in page
    assert 'name="limited_to_departments" value="1" checked' in page  # what was typed is kept
    assert 'value="viewer" checked' in page
    membership.refresh_from_db()
    assert membership.role == Role.PROCESSOR and not membership.limited_to_departments
    assert not AuditLog.objects.exclude(
        action__startswith="auth."
    ).exists()  # the role change was rolled back with it


def test_service_refuses_a_limit_with_no_department(owner, colleague):
    membership = Membership.objects.get(user=colleague)
    with pytest.raises(StaffError) as caught:
        scope.set_department_limit(actor=owner, membership=membership, limited=True)
    assert caught.value.field == "departments"


def test_limited_clerk_home_query_count_stays_flat(
    client, clerk, tottori, citizens, django_assert_max_num_queries
):
    for i in range(5):
        p = make_procedure(tottori, title=f"手続{i}")
        p.department = citizens
        p.save()
    client.force_login(clerk)
    with django_assert_max_num_queries(10):
        assert client.get(reverse("staff:home")).status_code == 200


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    procedure_departments=st.lists(st.sampled_from([None, 0, 1, 2]), min_size=4, max_size=4),
    member_departments=st.sets(st.sampled_from([0, 1, 2])),
    limited=st.booleans(),
    role=st.sampled_from([Role.ADMIN, Role.EDITOR, Role.PROCESSOR, Role.VIEWER]),
)
def test_the_list_and_the_access_helper_agree_with_the_rule(
    scoped_world, procedure_departments, member_departments, limited, role
):
    """Whatever the 所属 of the procedures and of the member, the limit and the role: a procedure is
    reachable exactly when the member is not limited, is an admin, or shares its 所属 (none: never)."""
    from django.http import Http404

    departments, procedures, user = scoped_world
    for procedure, index in zip(procedures, procedure_departments, strict=True):
        procedure.department = None if index is None else departments[index]
        procedure.save(update_fields=["department"])
    membership = Membership.objects.get(user=user)
    membership.role, membership.limited_to_departments = role, limited
    membership.save()
    membership.departments.set([departments[i] for i in member_departments])

    listed = set(access.procedures_for_user(user).values_list("pk", flat=True))
    for procedure, index in zip(procedures, procedure_departments, strict=True):
        expected = not limited or role == Role.ADMIN or (index is not None and index in member_departments)
        assert (procedure.pk in listed) is expected
        try:
            access.access_procedure_for_user(user, procedure.pk)
            reached = True
        except Http404:
            reached = False
        assert reached is expected


@pytest.fixture
def scoped_world(tottori):
    departments = [Department.objects.create(organization=tottori, name=f"第{i}課") for i in range(3)]
    procedures = [make_procedure(tottori, title=f"手続{i}") for i in range(4)]
    return departments, procedures, make_user("member", tottori, Role.VIEWER)


def test_departments_a_limited_member_may_give_a_procedure_are_their_own(clerk, colleague, tottori, citizens):
    learning = Department.objects.get_or_create(organization=tottori, name="生涯学習課")[0]
    assert list(access.departments_for_user(clerk, tottori)) == [citizens]
    assert set(access.departments_for_user(colleague, tottori)) == {citizens, learning}


def test_departments_for_a_user_of_another_organization_are_none(outsider, tottori, citizens):
    assert not access.departments_for_user(outsider, tottori).exists()


@pytest.fixture
def limited_editor(tottori, citizens):
    user = make_user("limited-editor", tottori, Role.EDITOR)
    membership = Membership.objects.get(user=user)
    membership.departments.set([citizens])
    membership.limited_to_departments = True
    membership.save()
    return user


def test_a_limited_editor_is_offered_only_their_own_department_and_must_choose_it(
    client, limited_editor, citizens, tottori
):
    other = Department.objects.create(organization=tottori, name="生涯学習課")
    client.force_login(limited_editor)
    url = reverse("staff:procedure_new", kwargs={"code": "312011"})
    page = client.get(url).content.decode()
    assert "市民課" in page and "生涯学習課" not in page
    base = {"title": "犬の登録", "kind": "application", "retention_years": "5"}
    refused = client.post(url, {**base, "department": other.pk})
    assert refused.status_code == 400 and 'value="犬の登録"' in refused.content.decode()
    assert client.post(url, base).status_code == 400  # none chosen: required for them
    created = client.post(url, {**base, "department": citizens.pk})
    assert created.status_code == 302
    from madoguchi.procedures.models import Procedure

    procedure = Procedure.objects.get(title="犬の登録")
    assert procedure.department == citizens
    assert client.get(created["Location"]).status_code == 200  # still within their reach


def test_what_a_limited_editor_copies_or_imports_is_given_their_department_and_stays_in_reach(
    client, limited_editor, citizens, council
):
    from madoguchi.procedures import services as procedure_services
    from madoguchi.procedures.library import library_documents
    from madoguchi.procedures.models import Procedure

    _name, document = library_documents()[0]
    template = procedure_services.save_library_template(council=council, document=document)
    client.force_login(limited_editor)
    response = client.post(
        reverse("staff:template_copy", kwargs={"template_id": template.pk}), {"organization": "312011"}
    )
    assert response.status_code == 302
    copied = Procedure.objects.get(source_template=template)
    assert copied.department == citizens
    assert client.get(response["Location"]).status_code == 200
    exported = procedure_services.export_procedure(copied)
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("x.json", json.dumps(exported).encode(), content_type="application/json")
    response = client.post(reverse("staff:procedure_import", kwargs={"code": "312011"}), {"file": upload})
    assert response.status_code == 302
    imported = Procedure.objects.exclude(pk=copied.pk).get()
    assert imported.department == citizens
    assert client.get(response["Location"]).status_code == 200


def test_a_limited_member_without_any_department_is_told_why_nothing_was_created(tottori, council):
    from madoguchi.procedures import services as procedure_services
    from madoguchi.procedures.library import library_documents

    user = make_user("lonely", tottori, Role.EDITOR)
    Membership.objects.filter(user=user).update(limited_to_departments=True)
    template = procedure_services.save_library_template(council=council, document=library_documents()[0][1])
    with pytest.raises(procedure_services.ProcedureError, match="所属が決まっていない"):
        procedure_services.copy_template(template=template, organization=tottori, actor=user)
