"""所属の管理: an organization's admin keeps its sections and their contacts; every change audited."""

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.audit.models import AuditLog
from madoguchi.organizations.models import Department
from tests.conftest import make_procedure

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_adds_changes_and_deletes_a_section(owner, tottori):
    client = client_for(owner)
    assert "所属の管理" in client.get(reverse("staff:home")).content.decode()
    url = reverse("staff:departments", kwargs={"code": "312011"})
    response = client.post(
        url, {"name": "福祉部 子育て支援課", "phone": "０８５７－２０－３１５５", "email": ""}
    )
    assert response.status_code == 302
    department = Department.objects.get(organization=tottori, name="福祉部 子育て支援課")
    assert department.phone == "0857-20-3155"
    response = client.post(url, {"name": "福祉部 子育て支援課"})
    assert response.status_code == 400 and "もうあります" in response.content.decode()

    edit = reverse("staff:department", kwargs={"code": "312011", "department_id": department.pk})
    client.post(edit, {"name": "福祉部 こども家庭課", "phone": "0857-20-3155", "email": "kodomo@example.jp"})
    department.refresh_from_db()
    assert department.name == "福祉部 こども家庭課" and department.email == "kodomo@example.jp"
    client.post(edit, {"delete": "1"})
    assert not Department.objects.filter(pk=department.pk).exists()
    actions = list(
        AuditLog.objects.filter(object_type="organizations.department").values_list("action", flat=True)
    )
    assert sorted(actions) == ["department.create", "department.delete", "department.update"]


def test_a_section_in_use_is_not_deleted(owner, tottori):
    procedure = make_procedure(tottori)
    edit = reverse("staff:department", kwargs={"code": "312011", "department_id": procedure.department_id})
    response = client_for(owner).post(edit, {"delete": "1"}, follow=True)
    assert "担当所属になっているため、削除できません" in response.content.decode()
    assert Department.objects.filter(pk=procedure.department_id).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "入力してください。"),
        ({"name": "課\x00"}, "制御文字"),
        ({"name": "市民課", "phone": "12"}, "電話番号"),
        ({"name": "市民課", "email": "not-an-address"}, "有効なメールアドレス"),
        ({"name": "x" * 200}, "128 文字以下"),
    ],
)
def test_bad_input_gets_a_japanese_message_and_keeps_what_was_typed(owner, data, message):
    response = client_for(owner).post(reverse("staff:departments", kwargs={"code": "312011"}), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Department.objects.exists()


def test_only_admins_keep_sections_and_editors_are_told_where_they_come_from(colleague, editor, tottori):
    url = reverse("staff:departments", kwargs={"code": "312011"})
    assert client_for(colleague).get(url).status_code == 403
    page = client_for(editor).get(reverse("staff:procedure_new", kwargs={"code": "312011"})).content.decode()
    assert "「所属の管理」で追加すると" in page
