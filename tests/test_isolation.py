"""Tenant isolation: a user of another organization gets 404 on every staff URL of 鳥取市."""

import pytest
from django.core.files.base import ContentFile
from django.urls import get_resolver, reverse

from madoguchi.notifications.models import OutgoingEmail
from madoguchi.stats.models import Indicator, WorkingGroup
from madoguchi.submissions.models import Attachment, DisposalList, ExportFile

pytestmark = pytest.mark.django_db

# Every staff URL that names an object, with how to build it. A new staff URL must be added here.
STAFF_URLS = {
    "inbox": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "inbox_bulk": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "export": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "export_csv": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "export_xlsx": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "export_file_request": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "export_file": ("get", lambda o: {"export_id": o["export_file"].pk}),
    "submission": ("get", lambda o: {"submission_id": o["submission"].pk}),
    "transition": ("post", lambda o: {"submission_id": o["submission"].pk}),
    "add_note": ("post", lambda o: {"submission_id": o["submission"].pk}),
    "reopen": ("post", lambda o: {"submission_id": o["submission"].pk}),
    "send_message": ("post", lambda o: {"submission_id": o["submission"].pk}),
    # Failed e-mails of the organization, and sending one again (tests/test_email_delivery.py)
    "failed_emails": ("get", lambda o: {"code": o["procedure"].organization.code}),
    "retry_email": ("post", lambda o: {"code": o["procedure"].organization.code, "email_id": o["email"].pk}),
    "email_texts": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "email_text": ("get", lambda o: {"procedure_id": o["procedure"].pk, "kind": "returned"}),
    "assign": ("post", lambda o: {"submission_id": o["submission"].pk}),
    "attachment": (
        "get",
        lambda o: {"submission_id": o["submission"].pk, "attachment_id": o["attachment"].pk},
    ),
    # Paper (tests/test_paper.py): the 決裁用 PDF, the 控え, all attachments as a ZIP
    "submission_case_pdf": ("get", lambda o: {"submission_id": o["submission"].pk}),
    "submission_receipt_pdf": ("get", lambda o: {"submission_id": o["submission"].pk}),
    "submission_files_zip": ("get", lambda o: {"submission_id": o["submission"].pk}),
    "audit": ("get", lambda o: {"code": o["procedure"].organization.code}),
    "council": ("get", lambda o: {"council_id": o["council"].pk}),
    # The builder (editors and admins of the organization)
    "procedure_new": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "procedure_import": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "builder": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_settings": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_field_new": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_field": ("post", lambda o: {"procedure_id": o["procedure"].pk, "key": "name"}),
    "builder_field_action": (
        "post",
        lambda o: {"procedure_id": o["procedure"].pk, "key": "name", "action": "delete"},
    ),
    "builder_email_field": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_pages": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_page": ("post", lambda o: {"procedure_id": o["procedure"].pk, "page_key": "page1"}),
    "builder_page_action": (
        "post",
        lambda o: {"procedure_id": o["procedure"].pk, "page_key": "page1", "action": "delete"},
    ),
    "builder_publish": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_discard": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_status": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_preview": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "builder_update": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "versions": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "version_publish": ("post", lambda o: {"procedure_id": o["procedure"].pk, "number": 1}),
    "procedure_export": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "procedure_share": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "procedure_distribute": ("post", lambda o: {"procedure_id": o["procedure"].pk}),
    "staff_list": ("get", lambda o: {"code": o["procedure"].organization.code}),
    "departments": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "organization_links": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "department": (
        "post",
        lambda o: {"code": o["procedure"].organization.code, "department_id": o["procedure"].department_id},
    ),
    "staff_invite": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "staff_edit": ("post", lambda o: _tottori_member(o)),
    "staff_remove": ("post", lambda o: _tottori_member(o)),
    "staff_resend_invitation": ("post", lambda o: _tottori_member(o)),
    "staff_unlock": ("post", lambda o: _tottori_member(o)),
    "staff_two_factor_reset": ("post", lambda o: _tottori_member(o)),
    "staff_end_sessions": ("post", lambda o: _tottori_member(o)),
    "two_factor_policy": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "privacy_disclosure": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "privacy_register": ("get", lambda o: {"code": o["procedure"].organization.code}),
    # 廃棄 (tests/test_retention.py)
    "disposal_lists": ("get", lambda o: {"code": o["procedure"].organization.code}),
    "disposal_list": (
        "get",
        lambda o: {"code": o["procedure"].organization.code, "list_id": o["disposal_list"].pk},
    ),
    "disposal_decide": (
        "post",
        lambda o: {"code": o["procedure"].organization.code, "list_id": o["disposal_list"].pk},
    ),
    # 集計 (tests/test_tally.py)
    "tally": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    "tally_csv": ("get", lambda o: {"procedure_id": o["procedure"].pk}),
    # An organization's counts and indicators (tests/test_counts.py, tests/test_indicator_pages.py)
    "counts": ("get", lambda o: {"code": o["procedure"].organization.code}),
    "organization_indicators": ("get", lambda o: {"code": o["procedure"].organization.code}),
    "organization_indicator_new": ("post", lambda o: {"code": o["procedure"].organization.code}),
    "indicator": ("get", lambda o: {"indicator_id": o["indicator"].pk}),
    "indicator_edit": ("post", lambda o: {"indicator_id": o["indicator"].pk}),
    # The council's own pages, for its secretariat only (tests/test_council_view.py, test_cost_share_pages.py)
    "council_member_counts": ("get", lambda o: {"council_id": o["council"].pk, "code": "312011"}),
    "council_open_data_license": ("post", lambda o: {"council_id": o["council"].pk}),
    "council_synonyms": ("post", lambda o: {"council_id": o["council"].pk}),
    "council_indicators": ("get", lambda o: {"council_id": o["council"].pk}),
    "council_indicator_new": ("post", lambda o: {"council_id": o["council"].pk}),
    "cost_shares": ("get", lambda o: {"council_id": o["council"].pk}),
    "cost_share": (
        "post",
        lambda o: {"council_id": o["council"].pk, "group_id": o["working_group"].pk, "year": 2026},
    ),
    "cost_share_export": (
        "get",
        lambda o: {
            "council_id": o["council"].pk,
            "group_id": o["working_group"].pk,
            "year": 2026,
            "ext": "csv",
        },
    ),
    "populations": ("post", lambda o: {"council_id": o["council"].pk}),
}
# Pages of the council's secretariat: any member organization's staff gets 404 there, as an outsider does.
COUNCIL_URLS = {
    "council",
    "council_member_counts",
    "council_open_data_license",
    "council_synonyms",
    "council_indicators",
    "council_indicator_new",
    "cost_shares",
    "cost_share",
    "cost_share_export",
    "populations",
}
NOT_OBJECT_URLS = {"login", "logout", "home"}
# The council's template library belongs to the council: every member reads it, and a user outside the
# council gets 404 (tests/test_builder.py::test_templates_stay_inside_their_council).
NOT_OBJECT_URLS |= {"templates", "template", "template_copy"}
# A member's own logins: only ever their own rows (another member's login is 404:
# tests/test_staff_sessions_list.py::test_one_login_is_ended_and_another_members_login_cannot_be).
NOT_OBJECT_URLS |= {"my_sessions", "my_sessions_end"}
# A member's own second factor: only ever their own devices (tests/test_two_factor.py).
NOT_OBJECT_URLS |= {"two_factor", "two_factor_verify"}
# Builder pages: for editors and admins; a processor gets 403 there (tests/test_builder.py).
BUILDER_URLS = {name for name in STAFF_URLS if name.startswith(("builder", "procedure_", "version"))}
# A procedure's e-mail texts are its editors' too (tests/test_email_texts.py).
BUILDER_URLS |= {"email_texts", "email_text"}
NOT_OBJECT_URLS |= {
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}
# Defining an organization's indicators: its admins and editors (tests/test_indicator_pages.py).
EDITOR_URLS = {"organization_indicator_new", "indicator_edit"}
# Pages of the organization's admin only: a colleague (processor) gets 403 there (tests/test_staff_accounts.py).
ADMIN_ONLY_URLS = {
    "departments",
    "organization_links",
    "department",
    "staff_list",
    "staff_invite",
    "staff_edit",
    "staff_remove",
    "staff_resend_invitation",
    "staff_unlock",
    "staff_two_factor_reset",
    "staff_end_sessions",
    "two_factor_policy",
    "privacy_disclosure",
    "privacy_register",
    "disposal_lists",
    "disposal_list",
    "disposal_decide",
}


@pytest.fixture
def objects(procedure, submission, council):
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
        "council": council,
        "export_file": export_file,
        "working_group": WorkingGroup.objects.create(council=council, name="電子申請部会"),
        "disposal_list": DisposalList.objects.create(
            organization=procedure.organization,
            listed_on="2031-04-01",
            submission_ids=[submission.pk],
            count=1,
        ),
        "indicator": Indicator.objects.create(
            organization=procedure.organization, name="申請件数", kind="outcome", unit="件"
        ),
        "email": OutgoingEmail.objects.create(
            organization=procedure.organization,
            submission=submission,
            kind="message",
            to="sakiko@example.jp",
            subject="【お知らせ】",
            body="本文",
            status=OutgoingEmail.Status.FAILED,
        ),
    }


def test_every_staff_url_is_listed_here():
    staff = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "staff")
    names = {p.name for p in staff.url_patterns}
    assert names == set(STAFF_URLS) | NOT_OBJECT_URLS


@pytest.mark.parametrize("name", sorted(STAFF_URLS))
def test_outsider_gets_404(client, outsider, objects, name):
    method, kwargs = STAFF_URLS[name]
    client.force_login(outsider)
    url = reverse(f"staff:{name}", kwargs=kwargs(objects))
    response = getattr(client, method)(url, {"to": "in_review", "body": "x", "assignee": "outsider"})
    assert response.status_code == 404
    assert "ページが見つかりません" in response.content.decode()


@pytest.mark.parametrize(
    "name", sorted(set(STAFF_URLS) - COUNCIL_URLS - {"audit"} - ADMIN_ONLY_URLS - BUILDER_URLS - EDITOR_URLS)
)
def test_colleague_in_the_same_organization_is_let_in(client, colleague, objects, name):
    method, kwargs = STAFF_URLS[name]
    client.force_login(colleague)
    url = reverse(f"staff:{name}", kwargs=kwargs(objects))
    # A form's fields go with a POST; a GET is the page as a link opens it (a "to" there is a date filter).
    data = {"to": "in_review", "body": "x", "assignee": "colleague"} if method == "post" else {}
    response = getattr(client, method)(url, data)
    assert response.status_code in (200, 302)


def test_anonymous_is_sent_to_login(client, objects):
    for name, (method, kwargs) in STAFF_URLS.items():
        url = reverse(f"staff:{name}", kwargs=kwargs(objects))
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/staff/login/"), name


def test_outsider_home_does_not_list_other_organizations(client, outsider, objects):
    client.force_login(outsider)
    page = client.get(reverse("staff:home")).content.decode()
    assert "シニア向けスマートフォン教室" not in page
    assert "米子市" in page


def _tottori_member(o) -> dict:
    """URL kwargs of a staff member of 鳥取市, for the 職員の管理 pages."""
    from django.contrib.auth import get_user_model

    from madoguchi.accounts.models import Membership

    user = get_user_model().objects.get_or_create(username="member-of-tottori")[0]
    organization = o["procedure"].organization
    membership = Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": "viewer"}
    )[0]
    return {"code": organization.code, "membership_id": membership.pk}


# Every input, every path (#11 point 8): query parameters and form fields holding NUL, other control characters
# or very long values, sent to every staff URL by its own admin, get a page (or a download), never a 500.
HOSTILE = ["\x00", "a\x00b", "\x1b[31m", "\u202e", "９" * 5000, "'; DROP TABLE x; --", "%00", "\x7f\x85"]
FIELD_NAMES = ["q", "page", "status", "sort", "from", "to", "assignee", "next", "encoding", "purpose", "year",
               "fiscal_year", "kind", "reason", "body", "title", "email", "name", "action", "ids", "query", "code"]  # fmt: skip


@pytest.mark.parametrize("name", sorted(STAFF_URLS))
def test_hostile_parameters_never_give_a_500(client, owner, objects, name):
    method, kwargs = STAFF_URLS[name]
    client.force_login(owner)
    url = reverse(f"staff:{name}", kwargs=kwargs(objects))
    # Two requests a URL: each field gets one of the values, shifted between the two.
    for shift in (0, 1):
        data = {field: HOSTILE[(i + shift) % len(HOSTILE)] for i, field in enumerate(FIELD_NAMES)}
        response = getattr(client, method)(url, data)
        assert response.status_code < 500, (name, shift, response.status_code)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/organizations/%00/procedures", "/api/v1/postal-codes/%00", "/api/v1/postal-codes/\u202e680",
     "/api/v1/organizations?limit=%00&offset=%00", "/312011/?q=%00", "/search/?q=%00%1b", "/status/?number=%00"],
)  # fmt: skip
def test_public_paths_with_control_characters_never_give_a_500(client, objects, path):
    response = client.get(path)
    assert response.status_code < 500
    if path.startswith("/api/v1/organizations/%00"):
        assert response.status_code == 404 and "団体が見つかりません" in response.json()["detail"]
