"""職員の管理: an organization's admin invites colleagues, changes their role and 所属, removes them;
everyone can set a password from a link (invitation or 「パスワードを忘れた方」).

Personas (tests/conftest.py): owner = admin of 鳥取市, colleague = processor, viewer, editor,
outsider = admin of 米子市.
"""

import logging
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.accounts import services
from madoguchi.accounts.models import Membership, Role
from madoguchi.audit.models import AuditLog
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.notifications.tasks import send_email
from madoguchi.organizations.models import Department
from tests.conftest import PASSWORD, make_user, run_at_once

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "umbrella-sunset-7142"
LINK = re.compile(r"https?://[^/\s]+(/staff/password/set/[^\s]+)")


@pytest.fixture
def departments(tottori, yonago):
    return {
        "info": Department.objects.create(organization=tottori, name="情報政策課"),
        "learning": Department.objects.create(organization=tottori, name="生涯学習課"),
        "yonago": Department.objects.create(organization=yonago, name="総務課"),
    }


def url(name: str, organization, membership=None) -> str:
    kwargs = {"code": organization.code}
    if membership is not None:
        kwargs["membership_id"] = membership.pk
    return reverse(f"staff:{name}", kwargs=kwargs)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def invite_post(**overrides) -> dict:
    return {"email": "hanako@city.tottori.lg.jp", "name": "鳥取 花子", "role": "processor", **overrides}


def link_in(email: OutgoingEmail | str) -> str:
    """The path and query of the set-password link in a queued mail (or a sent one's body)."""
    body = email if isinstance(email, str) else email.body
    match = LINK.search(body)
    assert match, body
    return match.group(1)


def set_password_through(link: str, password: str = NEW_PASSWORD) -> Client:
    browser = Client()
    response = browser.get(link)
    assert response.status_code == 302
    clean = response["Location"]
    assert "token" not in clean and urlsplit(clean).path == urlsplit(link).path  # the token leaves the URL
    page = browser.get(clean).content.decode()
    assert "パスワードの設定" in page and "新しいパスワード" in page
    response = browser.post(clean, {"new_password1": password, "new_password2": password})
    assert response.status_code == 302 and response["Location"] == reverse("staff:password_reset_complete")
    assert "パスワードを設定しました" in browser.get(response["Location"]).content.decode()
    return browser


def actions(organization) -> list[str]:
    """The organization's audit entries but logins (tests/test_login_security.py has those)."""
    entries = AuditLog.objects.filter(organization=organization).exclude(action__startswith="auth.")
    return list(entries.order_by("id").values_list("action", flat=True))


# ------------------------------------------------------------------------------------------------
# The list and who may see it
# ------------------------------------------------------------------------------------------------


def test_admin_sees_the_staff_with_role_departments_state_and_last_login(owner, colleague, departments):
    colleague.email = "colleague@city.tottori.lg.jp"
    colleague.last_name = "米原 太郎"
    colleague.save()
    colleague.memberships.get().departments.set([departments["info"], departments["learning"]])
    client = logged_in(owner)
    home = client.get(reverse("staff:home")).content.decode()
    assert f'href="{url("staff_list", owner.memberships.get().organization)}"' in home
    assert "職員の管理" in home
    page = client.get(url("staff_list", departments["info"].organization)).content.decode()
    assert "<h1>職員の管理" in page
    assert "米原 太郎" in page and "colleague@city.tottori.lg.jp" in page
    assert "処理担当者" in page and "管理者" in page
    assert "情報政策課、生涯学習課" in page
    assert "まだありません" in page  # colleague never logged in
    assert "（あなた）" in page
    assert "総務課" not in page  # 米子市's 所属


def test_the_list_takes_the_same_queries_for_many_staff(
    owner, tottori, departments, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in(owner)
    with CaptureQueriesContext(connection) as few:
        client.get(url("staff_list", tottori))
    for i in range(8):
        make_user(f"member{i}", tottori, Role.VIEWER).memberships.get().departments.add(departments["info"])
    with django_assert_max_num_queries(len(few)):
        client.get(url("staff_list", tottori))


ADMIN_PAGES = [
    ("get", "staff_list", False),
    ("get", "staff_invite", False),
    ("post", "staff_invite", False),
    ("get", "staff_edit", True),
    ("post", "staff_edit", True),
    ("get", "staff_remove", True),
    ("post", "staff_remove", True),
    ("post", "staff_resend_invitation", True),
]


@pytest.mark.parametrize("persona", ["colleague", "viewer", "editor"])
@pytest.mark.parametrize(("method", "name", "needs_member"), ADMIN_PAGES)
def test_members_who_are_not_admins_get_403(request, owner, tottori, persona, method, name, needs_member):
    user = request.getfixturevalue(persona)
    target = owner.memberships.get() if needs_member else None
    response = getattr(logged_in(user), method)(url(name, tottori, target), invite_post(role="admin"))
    assert response.status_code == 403
    assert Membership.objects.get(user=owner).role == Role.ADMIN
    assert (
        not OutgoingEmail.objects.exists()
        and not AuditLog.objects.exclude(action__startswith="auth.").exists()
    )
    assert "職員の管理" not in logged_in(user).get(reverse("staff:home")).content.decode()


@pytest.mark.parametrize(("method", "name"), [(m, n) for m, n, needs in ADMIN_PAGES if needs])
def test_an_admin_elsewhere_gets_404_for_a_member_of_tottori_even_under_their_own_code(
    outsider, yonago, colleague, method, name
):
    response = getattr(logged_in(outsider), method)(
        url(name, yonago, colleague.memberships.get()), {"role": "admin"}
    )
    assert response.status_code == 404
    assert colleague.memberships.get().role == Role.PROCESSOR and User.objects.get(pk=colleague.pk).is_active


@pytest.mark.parametrize("membership_id", [0, 2**63, 10**30])
def test_an_id_that_cannot_exist_is_a_404(owner, tottori, membership_id):
    path = reverse("staff:staff_edit", kwargs={"code": tottori.code, "membership_id": 1}).replace(
        "/1/", f"/{membership_id}/"
    )
    assert logged_in(owner).get(path).status_code == 404


# ------------------------------------------------------------------------------------------------
# Invite
# ------------------------------------------------------------------------------------------------


def test_invite_creates_the_user_queues_a_link_and_the_link_sets_a_password(owner, tottori, departments):
    client = logged_in(owner)
    assert "職員の招待" in client.get(url("staff_invite", tottori)).content.decode()
    response = client.post(
        url("staff_invite", tottori),
        invite_post(email="ＨＡＮＡＫＯ＠City.Tottori.lg.jp", departments=[departments["info"].pk]),
    )
    assert response.status_code == 302 and response["Location"] == url("staff_list", tottori)
    page = client.get(response["Location"]).content.decode()
    assert "hanako@city.tottori.lg.jp を処理担当者として登録し、お知らせのメールを送りました。" in page
    assert "招待中（パスワード未設定）" in page

    user = User.objects.get(username="hanako@city.tottori.lg.jp")
    assert user.email == "hanako@city.tottori.lg.jp" and user.get_full_name() == "鳥取 花子"
    assert not user.has_usable_password() and user.is_active
    membership = Membership.objects.get(user=user)
    assert membership.organization == tottori and membership.role == Role.PROCESSOR
    assert list(membership.departments.all()) == [departments["info"]]

    entry = AuditLog.objects.get(action="staff.invite")
    assert entry.actor == owner and entry.organization == tottori and entry.object_id == str(user.pk)
    assert entry.detail == {
        "email": "hanako@city.tottori.lg.jp",
        "role": "processor",
        "departments": "情報政策課",
        "new_user": True,
    }

    email = OutgoingEmail.objects.get()
    assert email.kind == services.KIND_INVITATION and email.organization == tottori
    assert email.to == "hanako@city.tottori.lg.jp" and email.status == OutgoingEmail.Status.PENDING
    assert email.subject.endswith("鳥取市の職員として登録されました")
    assert "鳥取 花子 様" in email.body and "ユーザー名：hanako@city.tottori.lg.jp" in email.body
    assert DBTaskResult.objects.filter(args_kwargs__args=[email.pk]).count() == 1

    set_password_through(link_in(email))
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert actions(tottori) == ["staff.invite", "staff.password_set"]
    assert AuditLog.objects.get(action="staff.password_set").actor == user

    login = Client()
    response = login.post(
        reverse("staff:login"), {"username": "hanako@city.tottori.lg.jp", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == reverse("staff:home")
    assert "鳥取市" in login.get(reverse("staff:home")).content.decode()


def test_the_link_works_once(owner, tottori):
    services.invite_staff(actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer")
    link = link_in(OutgoingEmail.objects.get())
    set_password_through(link)
    again = Client().get(link, follow=True).content.decode()
    assert "このリンクは使えません" in again and "new_password1" not in again


def test_the_link_expires(owner, tottori, monkeypatch):
    services.invite_staff(actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer")
    link = link_in(OutgoingEmail.objects.get())
    assert "まで、1回だけ使えます" in OutgoingEmail.objects.get().body
    later = datetime.now() + timedelta(days=3, minutes=1)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    page = Client().get(link, follow=True).content.decode()
    assert "このリンクは使えません。期限が過ぎたか、すでに使われています。" in page
    assert not User.objects.get(username="a@example.jp").has_usable_password()


def test_a_forged_or_broken_link_says_so(owner, tottori):
    services.invite_staff(actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer")
    path = urlsplit(link_in(OutgoingEmail.objects.get())).path
    for bad in (
        f"{path}?token=abc-def",
        f"{path}?token=%00",
        "/staff/password/set/%00%ff/",
        "/staff/password/set/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk/",
    ):
        response = Client().get(bad, follow=True)
        assert response.status_code == 200
        assert "このリンクは使えません" in response.content.decode()


def test_the_worker_sends_the_link_and_the_token_never_reaches_a_log(owner, tottori, caplog):
    caplog.set_level(logging.DEBUG)
    services.invite_staff(actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer")
    queued = OutgoingEmail.objects.get()
    token = re.search(r"token=([^\s&]+)", queued.body).group(1)
    assert send_email.call(queued.pk) == "sent"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["a@example.jp"]
    assert f"token={token}" in mail.outbox[0].body
    queued.refresh_from_db()
    assert queued.body == ""  # the link is not kept once sent
    set_password_through(link_in(mail.outbox[0].body))
    assert token not in caplog.text
    assert not AuditLog.objects.filter(detail__icontains=token).exists()


def test_nothing_is_queued_when_the_invitation_rolls_back(owner, tottori):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.invite_staff(
            actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer"
        )
        assert OutgoingEmail.objects.count() == 1 and DBTaskResult.objects.count() == 1
        raise RuntimeError
    assert not OutgoingEmail.objects.exists() and not DBTaskResult.objects.exists()
    assert (
        not User.objects.filter(username="a@example.jp").exists()
        and not AuditLog.objects.exclude(action__startswith="auth.").exists()
    )


def test_a_user_of_another_organization_is_added_and_told_without_a_link(owner, tottori, outsider):
    outsider.email = "outsider@city.yonago.lg.jp"
    outsider.save()
    response = logged_in(owner).post(
        url("staff_invite", tottori), invite_post(email="Outsider@City.Yonago.lg.jp", role="viewer")
    )
    assert response.status_code == 302
    assert User.objects.count() == 2  # owner and outsider: nobody new
    assert set(outsider.memberships.values_list("organization__code", "role")) == {
        ("312029", "admin"),
        ("312011", "viewer"),
    }
    email = OutgoingEmail.objects.get()
    assert email.kind == services.KIND_ADDED and "token" not in email.body
    assert "これまでと同じユーザー名とパスワードでログインすると" in email.body
    assert "ユーザー名：outsider" in email.body
    assert AuditLog.objects.get(action="staff.invite").detail["new_user"] is False
    outsider.refresh_from_db()
    assert outsider.get_full_name() == ""  # an existing account is never renamed by another organization


def test_inviting_someone_already_here_is_explained_and_keeps_what_was_typed(owner, tottori, colleague):
    colleague.email = "colleague@city.tottori.lg.jp"
    colleague.save()
    response = logged_in(owner).post(
        url("staff_invite", tottori), invite_post(email="colleague@city.tottori.lg.jp", name="米原")
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "この方はすでに鳥取市の職員です。役割と所属は一覧から変更できます" in page
    assert 'value="colleague@city.tottori.lg.jp"' in page and 'value="米原"' in page
    assert (
        not OutgoingEmail.objects.exists()
        and not AuditLog.objects.exclude(action__startswith="auth.").exists()
    )


def test_a_removed_user_invited_again_is_switched_on_and_gets_a_link(owner, tottori, colleague):
    colleague.email = "colleague@city.tottori.lg.jp"
    colleague.save()
    services.remove_membership(actor=owner, membership=colleague.memberships.get())
    assert not User.objects.get(pk=colleague.pk).is_active
    services.invite_staff(
        actor=owner, organization=tottori, email="colleague@city.tottori.lg.jp", name="米原", role="viewer"
    )
    assert User.objects.get(pk=colleague.pk).is_active
    assert OutgoingEmail.objects.get().kind == services.KIND_INVITATION


LONG = "a" * 290 + "@example.jp"  # 301 characters


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": ""}, "メールアドレスを入力してください"),
        ({"email": "   "}, "メールアドレスを入力してください"),
        ({"email": LONG}, "メールアドレスは150文字以内で入力してください（現在301文字です）"),
        ({"email": "hanako@example.jp\x00"}, "使えない文字（改行・タブなどの制御文字）が含まれています"),
        ({"email": "hana\nko@example.jp"}, "使えない文字（改行・タブなどの制御文字）が含まれています"),
        ({"email": "hanako@example.jp\u200b"}, "使えない文字（改行・タブなどの制御文字）が含まれています"),
        ({"email": "hanako.example.jp"}, "メールアドレスの形式が正しくありません"),
        ({"email": "hanako@localhost"}, "メールアドレスの形式が正しくありません"),
        ({"name": ""}, "氏名を入力してください"),
        ({"name": "\u3000 "}, "氏名を入力してください"),
        ({"name": "鳥" * 51}, "氏名は50文字以内で入力してください（現在51文字です）"),
        ({"name": "鳥取\x00花子"}, "使えない文字（改行・タブなどの制御文字）が含まれています"),
        ({"name": "鳥取\x07花子"}, "氏名に使えない文字（改行・タブなどの制御文字 "),
        ({"role": ""}, "役割を選んでください"),
        ({"role": "superuser"}, "役割を選んでください"),
        ({"role": "admin\x00"}, "役割を選んでください"),
        ({"departments": ["yonago"]}, "選べるのは鳥取市の所属だけです。一覧から選び直してください"),
        ({"departments": ["99999999999999999999999"]}, "選べるのは鳥取市の所属だけです"),
        ({"departments": ["-1"]}, "選べるのは鳥取市の所属だけです"),
        ({"departments": ["１"]}, "選べるのは鳥取市の所属だけです"),
        ({"departments": ["\x00"]}, "選べるのは鳥取市の所属だけです"),
    ],
)
def test_bad_input_is_explained_next_to_the_field_and_kept(owner, tottori, departments, overrides, message):
    if overrides.get("departments") == ["yonago"]:
        overrides = {**overrides, "departments": [str(departments["yonago"].pk)]}
    data = invite_post(**overrides)
    response = logged_in(owner).post(url("staff_invite", tottori), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert 'class="error-text"' in page and "入力内容を確認してください（1件）" in page
    for key in ("email", "name"):
        if "\x00" not in data[key]:
            typed = data[key].replace("&", "&amp;").replace('"', "&quot;")
            assert f'value="{typed}"' in page
    assert (
        User.objects.count() == 1
        and not OutgoingEmail.objects.exists()
        and not AuditLog.objects.exclude(action__startswith="auth.").exists()
    )


def test_two_mistakes_are_both_shown_with_links_to_their_fields(owner, tottori):
    response = logged_in(owner).post(url("staff_invite", tottori), {"email": "x", "name": "", "role": ""})
    page = response.content.decode()
    assert "入力内容を確認してください（3件）" in page
    assert (
        '<a href="#id_email">' in page and '<a href="#id_name">' in page and '<a href="#role-admin">' in page
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(email=st.text(max_size=320), name=st.text(max_size=80), role=st.text(max_size=12))
def test_any_text_is_answered_without_a_500(owner, tottori, email, name, role):
    response = logged_in(owner).post(
        url("staff_invite", tottori), {"email": email, "name": name, "role": role}
    )
    assert response.status_code in (302, 400)


# ------------------------------------------------------------------------------------------------
# Role and 所属
# ------------------------------------------------------------------------------------------------


def test_admin_changes_role_and_departments_each_recorded(owner, tottori, colleague, departments):
    membership = colleague.memberships.get()
    client = logged_in(owner)
    page = client.get(url("staff_edit", tottori, membership)).content.decode()
    assert 'id="role-processor" name="role" value="processor" checked' in page
    assert "情報政策課" in page and "総務課" not in page
    response = client.post(
        url("staff_edit", tottori, membership),
        {"role": "editor", "departments": [departments["info"].pk, departments["learning"].pk]},
    )
    assert response.status_code == 302 and response["Location"] == url("staff_list", tottori)
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR
    assert set(membership.departments.all()) == {departments["info"], departments["learning"]}
    role, depts = (
        AuditLog.objects.filter(organization=tottori).exclude(action__startswith="auth.").order_by("id")
    )
    assert (
        role.action == "staff.role" and role.detail["from"] == "processor" and role.detail["to"] == "editor"
    )
    assert depts.action == "staff.departments" and depts.detail["from"] == ""
    assert depts.detail["to"] == "情報政策課、生涯学習課"
    # The same again changes and records nothing.
    client.post(
        url("staff_edit", tottori, membership),
        {"role": "editor", "departments": [departments["learning"].pk, departments["info"].pk]},
    )
    assert AuditLog.objects.exclude(action__startswith="auth.").count() == 2
    client.post(url("staff_edit", tottori, membership), {"role": "editor"})
    assert list(membership.departments.all()) == []
    assert actions(tottori)[-1] == "staff.departments"
    audit_page = client.get(reverse("staff:audit", kwargs={"code": tottori.code})).content.decode()
    assert "職員の役割の変更" in audit_page and "職員の所属の変更" in audit_page


def test_a_department_of_another_organization_is_refused_by_form_and_service(
    owner, tottori, colleague, departments
):
    membership = colleague.memberships.get()
    response = logged_in(owner).post(
        url("staff_edit", tottori, membership),
        {"role": "processor", "departments": [departments["yonago"].pk]},
    )
    assert response.status_code == 400
    assert "選べるのは鳥取市の所属だけです" in response.content.decode()
    with pytest.raises(services.StaffError) as raised:
        services.change_membership(
            actor=owner, membership=membership, role="processor", department_ids=[departments["yonago"].pk]
        )
    assert raised.value.field == "departments" and "鳥取市の所属だけ" in str(raised.value)
    assert (
        not membership.departments.exists()
        and not AuditLog.objects.exclude(action__startswith="auth.").exists()
    )


FORGED_IDS = st.lists(
    st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70),
        st.text(max_size=24),
        st.booleans(),
        st.none(),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forged=FORGED_IDS)
def test_forged_department_ids_never_reach_another_organization(
    owner, tottori, colleague, departments, forged
):
    membership = colleague.memberships.get()
    own = {departments["info"].pk, departments["learning"].pk}
    ids = [departments["yonago"].pk, *forged] if not forged[0] else forged
    wanted_only_own = all(isinstance(i, int) and not isinstance(i, bool) and i in own for i in ids) or all(
        isinstance(i, str) and i.isascii() and i.isdigit() and len(i) <= 18 and int(i) in own for i in ids
    )
    try:
        services.change_membership(actor=owner, membership=membership, role="processor", department_ids=ids)
    except services.StaffError as exc:
        assert exc.field == "departments" and str(exc)
    else:
        assert wanted_only_own
    assert set(membership.departments.values_list("pk", flat=True)) <= own
    assert not Membership.objects.filter(
        departments__organization=departments["yonago"].organization
    ).exists()


# ------------------------------------------------------------------------------------------------
# Remove, and the last admin
# ------------------------------------------------------------------------------------------------


def test_admin_removes_a_member_who_is_then_switched_off(owner, tottori, colleague):
    client = logged_in(owner)
    membership = colleague.memberships.get()
    page = client.get(url("staff_remove", tottori, membership)).content.decode()
    assert "colleague を職員から外す" in page or "を職員から外す" in page
    response = client.post(url("staff_remove", tottori, membership))
    assert response.status_code == 302 and response["Location"] == url("staff_list", tottori)
    assert "ログインもできなくなりました" in client.get(response["Location"]).content.decode()
    assert not Membership.objects.filter(user=colleague).exists()
    assert not User.objects.get(pk=colleague.pk).is_active
    entry = AuditLog.objects.get(action="staff.remove")
    assert entry.detail["role"] == "processor" and entry.object_id == str(colleague.pk)
    # Their open session ends: an inactive user is no longer authenticated.
    assert logged_in_before_removal_is_refused(colleague)


def logged_in_before_removal_is_refused(user) -> bool:
    response = Client().post(reverse("staff:login"), {"username": user.username, "password": PASSWORD})
    return (
        response.status_code == 200
        and "ユーザー名またはパスワードが正しくありません" in response.content.decode()
    )


def test_a_member_of_another_organization_stays_active_when_removed_here(owner, tottori, yonago):
    both = make_user("both", yonago, Role.PROCESSOR)
    Membership.objects.create(user=both, organization=tottori, role=Role.VIEWER)
    assert (
        services.remove_membership(actor=owner, membership=both.memberships.get(organization=tottori))
        is False
    )
    both.refresh_from_db()
    assert both.is_active and list(both.memberships.values_list("organization__code", flat=True)) == [
        "312029"
    ]


def test_the_last_admin_cannot_demote_or_remove_themselves(owner, tottori):
    client = logged_in(owner)
    membership = owner.memberships.get()
    response = client.post(url("staff_edit", tottori, membership), {"role": "processor"})
    message = "鳥取市の管理者がいなくなるため、この変更はできません。先に別の職員を管理者にしてから、もう一度操作してください。"
    assert response.status_code == 400 and message in response.content.decode()
    assert 'value="processor" checked' in response.content.decode()  # what was chosen is kept
    response = client.post(url("staff_remove", tottori, membership))
    assert response.status_code == 400 and message in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN and User.objects.get(pk=owner.pk).is_active
    assert not AuditLog.objects.exclude(action__startswith="auth.").exists()


def test_an_inactive_admin_does_not_count(owner, tottori):
    other = make_user("other-admin", tottori, Role.ADMIN)
    other.is_active = False
    other.save()
    with pytest.raises(services.StaffError):
        services.change_membership(
            actor=owner, membership=owner.memberships.get(), role="viewer", department_ids=[]
        )


def test_with_a_second_admin_an_admin_may_step_down_and_loses_the_page(owner, tottori):
    make_user("second-admin", tottori, Role.ADMIN)
    client = logged_in(owner)
    response = client.post(url("staff_edit", tottori, owner.memberships.get()), {"role": "viewer"})
    assert response.status_code == 302 and response["Location"] == reverse("staff:home")
    assert client.get(url("staff_list", tottori)).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(tottori):
    first = make_user("first-admin", tottori, Role.ADMIN)
    second = make_user("second-admin", tottori, Role.ADMIN)
    results = []

    def demote(actor, target):
        from django.db import connection

        try:
            services.change_membership(
                actor=actor, membership=target.memberships.get(), role="viewer", department_ids=[]
            )
            results.append("ok")
        except services.StaffError:
            results.append("refused")
        finally:
            connection.close()

    run_at_once(lambda: demote(first, second), lambda: demote(second, first))
    assert sorted(results) == ["ok", "refused"]
    assert Membership.objects.filter(organization=tottori, role=Role.ADMIN).count() == 1


# ------------------------------------------------------------------------------------------------
# Resend, forgotten password
# ------------------------------------------------------------------------------------------------


def test_resend_gives_an_invited_member_a_new_link_and_refuses_one_with_a_password(owner, tottori, colleague):
    services.invite_staff(actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer")
    invited = Membership.objects.get(user__username="a@example.jp")
    client = logged_in(owner)
    assert "招待のメールをもう一度送る" in client.get(url("staff_edit", tottori, invited)).content.decode()
    response = client.post(url("staff_resend_invitation", tottori, invited), follow=True)
    assert "a@example.jp に招待のメールをもう一度送りました。" in response.content.decode()
    assert OutgoingEmail.objects.filter(kind=services.KIND_INVITATION).count() == 2
    assert actions(tottori) == ["staff.invite", "staff.invite_resend"]
    set_password_through(link_in(OutgoingEmail.objects.order_by("-id").first()))
    response = client.post(url("staff_resend_invitation", tottori, colleague.memberships.get()), follow=True)
    assert "この方はすでにパスワードを設定しています" in response.content.decode()


@pytest.fixture
def known(colleague):
    colleague.email = "colleague@city.tottori.lg.jp"
    colleague.save()
    return colleague


def test_login_page_links_to_the_forgotten_password_page(client):
    page = client.get(reverse("staff:login")).content.decode()
    assert f'<a href="{reverse("staff:password_reset")}">パスワードを忘れた方</a>' in page


def test_forgotten_password_answers_the_same_whether_or_not_the_address_is_known(known, tottori):
    page = Client().get(reverse("staff:password_reset")).content.decode()
    assert "<h1>パスワードを忘れた方</h1>" in page
    answers = []
    for address in ("Colleague@City.Tottori.lg.jp", "nobody@city.tottori.lg.jp"):
        response = Client().post(reverse("staff:password_reset"), {"email": address})
        assert response.status_code == 302
        done = Client().get(response["Location"])
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", done.content.decode())
        answers.append((response["Location"], done.status_code, page))
    assert answers[0] == answers[1]
    assert "入力されたメールアドレスが登録されていれば" in answers[0][2]
    email = OutgoingEmail.objects.get()
    assert email.kind == services.KIND_RESET_LINK and email.to == "colleague@city.tottori.lg.jp"
    assert email.organization == tottori and "パスワードの再設定" in email.subject
    set_password_through(link_in(email), "another-pleasant-2931")
    assert User.objects.get(pk=known.pk).check_password("another-pleasant-2931")
    assert actions(tottori) == ["staff.password_set"]


def test_forgotten_password_sends_nothing_to_a_switched_off_user_and_at_most_three_an_hour(known, outsider):
    for _ in range(5):
        Client().post(reverse("staff:password_reset"), {"email": known.email})
    assert OutgoingEmail.objects.count() == 3
    outsider.email = "outsider@example.jp"
    outsider.is_active = False
    outsider.save()
    response = Client().post(reverse("staff:password_reset"), {"email": "outsider@example.jp"})
    assert response.status_code == 302 and OutgoingEmail.objects.count() == 3


def test_an_invitee_whose_link_expired_can_ask_for_a_new_one(owner, tottori):
    services.invite_staff(actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer")
    Client().post(reverse("staff:password_reset"), {"email": "a@example.jp"})
    assert OutgoingEmail.objects.filter(kind=services.KIND_RESET_LINK).count() == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "メールアドレスを入力してください"),
        ("x" * 300, "メールアドレスは254文字以内で入力してください（現在300文字です）"),
        ("a\x00@example.jp", "使えない文字（改行・タブなどの制御文字）が含まれています"),
        ("not-an-address", "メールアドレスの形式が正しくありません"),
    ],
)
def test_forgotten_password_explains_bad_input(typed, message):
    response = Client().post(reverse("staff:password_reset"), {"email": typed})
    assert response.status_code == 200 and message in response.content.decode()
    assert not OutgoingEmail.objects.exists()


def test_a_weak_or_mismatched_password_is_explained_in_japanese(owner, tottori):
    services.invite_staff(actor=owner, organization=tottori, email="a@example.jp", name="甲", role="viewer")
    browser = Client()
    clean = browser.get(link_in(OutgoingEmail.objects.get()))["Location"]
    for first, second in (("12345", "12345"), (NEW_PASSWORD, NEW_PASSWORD + "x"), ("a\x00" * 6, "a\x00" * 6)):
        response = browser.post(clean, {"new_password1": first, "new_password2": second})
        page = response.content.decode()
        assert response.status_code == 200 and 'class="error-text"' in page
        assert re.search(r"[ぁ-んァ-ン一-龥]", page.split('class="error-text"')[1][:200])
    assert not AuditLog.objects.filter(action="staff.password_set").exists()
    assert (
        browser.post(clean, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 302
    )


def test_the_operator_cannot_give_a_member_another_organizations_department_in_the_admin(
    colleague, departments
):
    from madoguchi.accounts.admin import MembershipAdminForm

    membership = colleague.memberships.get()
    data = {"user": colleague.pk, "organization": membership.organization_id, "role": "processor"}
    form = MembershipAdminForm({**data, "departments": [departments["yonago"].pk]}, instance=membership)
    assert not form.is_valid() and form.errors["departments"] == ["鳥取市の所属ではありません：総務課"]
    form = MembershipAdminForm({**data, "departments": [departments["info"].pk]}, instance=membership)
    assert form.is_valid()
