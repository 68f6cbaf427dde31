from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from madoguchi.accounts import passkeys, two_factor_views
from madoguchi.accounts import views as account_views
from madoguchi.api.api import api
from madoguchi.audit import views as audit_views
from madoguchi.notifications import staff_views as notification_views
from madoguchi.organizations import pages as org_pages
from madoguchi.organizations import views as org_views
from madoguchi.procedures import views as builder_views
from madoguchi.security import csp_report
from madoguchi.stats import cost_share_views, indicator_views, opendata_views
from madoguchi.stats import views as stats_views
from madoguchi.submissions import (
    disclosure_views,
    draft_views,
    resident_views,
    retention_views,
    staff_views,
    tally_views,
    verification_views,
)
from madoguchi.submissions import paper_views as paper


class OrganizationCode:
    regex = r"[0-9]{6}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OrganizationCode, "orgcode")

public_patterns = [
    path("", org_views.home, name="home"),
    # Open data of a council: counts only, no login (stats/opendata.py)
    path("opendata/<int:council_id>/", opendata_views.index, name="opendata"),
    path("opendata/<int:council_id>/catalog.jsonld", opendata_views.catalog, name="opendata_catalog"),
    path(
        "opendata/<int:council_id>/<slug:dataset>.<str:ext>",
        opendata_views.dataset_file,
        name="opendata_file",
    ),
    # This system's own pages, the fallbacks of the footer links (organizations/pages.py)
    path("accessibility/", org_pages.accessibility_statement, name="accessibility"),
    path("terms/", org_pages.terms, name="terms"),
    path("privacy/", org_pages.privacy, name="privacy"),
    path("status/", resident_views.status_lookup, name="status"),
    path("status/view/", resident_views.status_view, name="status_view"),
    path("status/view/receipt.pdf", paper.status_receipt_pdf, name="status_receipt_pdf"),
    path("status/withdraw/", resident_views.status_withdraw, name="status_withdraw"),
    path("status/withdraw/confirm/", resident_views.status_withdraw_confirm, name="status_withdraw_confirm"),
    path("status/reply/", resident_views.status_reply, name="status_reply"),
    path("status/end/", resident_views.status_end, name="status_end"),
    path("status/correct/", resident_views.status_correct, name="status_correct"),
    path("status/correct/confirm/", resident_views.status_correct_confirm, name="status_correct_confirm"),
    path("status/forgot/", verification_views.inquiry_recovery, name="inquiry_recovery"),
    path("verify/", verification_views.verify_open, name="verify_open"),
    path("<orgcode:code>/", org_views.organization_page, name="organization"),
    path("<orgcode:code>/contact/", org_pages.contact, name="contact"),
    path("<orgcode:code>/procedures/<int:procedure_id>/", resident_views.form_page, name="form"),
    path(
        "<orgcode:code>/procedures/<int:procedure_id>/confirm/", resident_views.confirm_page, name="confirm"
    ),
    path("<orgcode:code>/procedures/<int:procedure_id>/done/", resident_views.done_page, name="done"),
    path(
        "<orgcode:code>/procedures/<int:procedure_id>/verify/",
        verification_views.verify_start,
        name="verify_start",
    ),
    path(
        "<orgcode:code>/procedures/<int:procedure_id>/verify/sent/",
        verification_views.verify_sent,
        name="verify_sent",
    ),
    path("<orgcode:code>/procedures/<int:procedure_id>/draft/", draft_views.draft_page, name="draft"),
    path("drafts/resume/", draft_views.draft_resume, name="draft_resume"),
    path(
        "<orgcode:code>/procedures/<int:procedure_id>/done/receipt.pdf",
        paper.done_receipt_pdf,
        name="done_receipt_pdf",
    ),
]

staff_patterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="staff/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # 2段階認証 (accounts/two_factor.py)
    path("login/code/", two_factor_views.verify, name="two_factor_verify"),
    path("account/two-factor/", two_factor_views.manage, name="two_factor"),
    path(
        "organizations/<orgcode:code>/staff/<int:membership_id>/two-factor-reset/",
        two_factor_views.staff_reset,
        name="staff_two_factor_reset",
    ),
    path(
        "organizations/<orgcode:code>/staff/two-factor-policy/",
        two_factor_views.policy,
        name="two_factor_policy",
    ),
    # Forgotten password, and the set-password link of the invitation and reset mails
    path("account/sessions/", account_views.my_sessions, name="my_sessions"),
    path("account/sessions/end/", account_views.my_sessions_end, name="my_sessions_end"),
    path("password/forgot/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/forgot/sent/", account_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/set/done/",
        account_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("password/set/<uidb64>/", account_views.SetPasswordView.as_view(), name="password_reset_confirm"),
    # 職員の管理: each organization's admin runs its staff accounts
    path("organizations/<orgcode:code>/staff/", account_views.staff_list, name="staff_list"),
    path("organizations/<orgcode:code>/departments/", org_views.departments, name="departments"),
    # 開示請求 and 個人情報ファイル簿 (submissions/disclosure.py)
    path("organizations/<orgcode:code>/privacy/", disclosure_views.privacy, name="privacy_disclosure"),
    path(
        "organizations/<orgcode:code>/privacy/register/",
        disclosure_views.file_register,
        name="privacy_register",
    ),
    path("organizations/<orgcode:code>/links/", org_pages.organization_links, name="organization_links"),
    path(
        "organizations/<orgcode:code>/departments/<int:department_id>/",
        org_views.department_edit,
        name="department",
    ),
    path("organizations/<orgcode:code>/staff/invite/", account_views.staff_invite, name="staff_invite"),
    path(
        "organizations/<orgcode:code>/staff/<int:membership_id>/", account_views.staff_edit, name="staff_edit"
    ),
    path(
        "organizations/<orgcode:code>/staff/<int:membership_id>/remove/",
        account_views.staff_remove,
        name="staff_remove",
    ),
    path(
        "organizations/<orgcode:code>/staff/<int:membership_id>/end-sessions/",
        account_views.staff_end_sessions,
        name="staff_end_sessions",
    ),
    path(
        "organizations/<orgcode:code>/staff/<int:membership_id>/unlock/",
        account_views.staff_unlock,
        name="staff_unlock",
    ),
    path(
        "organizations/<orgcode:code>/staff/<int:membership_id>/resend/",
        account_views.staff_resend_invitation,
        name="staff_resend_invitation",
    ),
    path("", account_views.home, name="home"),
    path("procedures/<int:procedure_id>/", staff_views.inbox, name="inbox"),
    path("procedures/<int:procedure_id>/selected/", staff_views.inbox_bulk, name="inbox_bulk"),
    path("procedures/<int:procedure_id>/export/", staff_views.export_page, name="export"),
    path("procedures/<int:procedure_id>/export.csv", staff_views.export_csv, name="export_csv"),
    path("procedures/<int:procedure_id>/export.xlsx", staff_views.export_xlsx, name="export_xlsx"),
    path("procedures/<int:procedure_id>/tally/", tally_views.tally_page, name="tally"),
    path("procedures/<int:procedure_id>/tally.csv", tally_views.tally_csv, name="tally_csv"),
    path(
        "procedures/<int:procedure_id>/export-files/",
        staff_views.export_file_request,
        name="export_file_request",
    ),
    path("export-files/<int:export_id>/", staff_views.export_file, name="export_file"),
    path("submissions/<int:submission_id>/", staff_views.detail, name="submission"),
    path("submissions/<int:submission_id>/transition/", staff_views.transition, name="transition"),
    path("submissions/<int:submission_id>/notes/", staff_views.add_note, name="add_note"),
    path("submissions/<int:submission_id>/reopen/", staff_views.reopen, name="reopen"),
    path("submissions/<int:submission_id>/messages/", notification_views.send_message, name="send_message"),
    path("procedures/<int:procedure_id>/emails/", notification_views.email_texts, name="email_texts"),
    path(
        "procedures/<int:procedure_id>/emails/<slug:kind>/",
        notification_views.email_text_edit,
        name="email_text",
    ),
    path("submissions/<int:submission_id>/assign/", staff_views.assign, name="assign"),
    path(
        "submissions/<int:submission_id>/files/<int:attachment_id>/",
        staff_views.attachment,
        name="attachment",
    ),
    path("submissions/<int:submission_id>/case.pdf", paper.case_pdf, name="submission_case_pdf"),
    path("submissions/<int:submission_id>/receipt.pdf", paper.receipt_pdf, name="submission_receipt_pdf"),
    path("submissions/<int:submission_id>/files.zip", paper.files_zip, name="submission_files_zip"),
    path("organizations/<orgcode:code>/audit/", audit_views.audit_log, name="audit"),
    path("organizations/<orgcode:code>/disposals/", retention_views.disposal_lists, name="disposal_lists"),
    path(
        "organizations/<orgcode:code>/disposals/<int:list_id>/",
        retention_views.disposal_list,
        name="disposal_list",
    ),
    path(
        "organizations/<orgcode:code>/disposals/<int:list_id>/decide/",
        retention_views.disposal_decide,
        name="disposal_decide",
    ),
    path(
        "organizations/<orgcode:code>/emails/failed/", notification_views.failed_emails, name="failed_emails"
    ),
    path(
        "organizations/<orgcode:code>/emails/<int:email_id>/retry/",
        notification_views.retry_email,
        name="retry_email",
    ),
    path("councils/<int:council_id>/", stats_views.council_dashboard, name="council"),
    path(
        "councils/<int:council_id>/members/<orgcode:code>/",
        stats_views.council_member_counts,
        name="council_member_counts",
    ),
    path("councils/<int:council_id>/synonyms/", org_views.council_synonyms, name="council_synonyms"),
    path(
        "councils/<int:council_id>/open-data-license/",
        stats_views.council_open_data_license,
        name="council_open_data_license",
    ),
    path("organizations/<orgcode:code>/counts/", stats_views.organization_counts, name="counts"),
    path("councils/<int:council_id>/cost-shares/", cost_share_views.cost_shares, name="cost_shares"),
    path(
        "councils/<int:council_id>/cost-shares/<int:group_id>/<int:year>/",
        cost_share_views.cost_share_year,
        name="cost_share",
    ),
    path(
        "councils/<int:council_id>/cost-shares/<int:group_id>/<int:year>/shares.<str:ext>",
        cost_share_views.cost_share_export,
        name="cost_share_export",
    ),
    path("councils/<int:council_id>/populations/", cost_share_views.populations, name="populations"),
    # 指標と進捗評価: an organization's and a council's indicators
    path(
        "organizations/<orgcode:code>/indicators/",
        indicator_views.organization_indicators,
        name="organization_indicators",
    ),
    path(
        "organizations/<orgcode:code>/indicators/new/",
        indicator_views.organization_indicator_new,
        name="organization_indicator_new",
    ),
    path(
        "councils/<int:council_id>/indicators/", indicator_views.council_indicators, name="council_indicators"
    ),
    path(
        "councils/<int:council_id>/indicators/new/",
        indicator_views.council_indicator_new,
        name="council_indicator_new",
    ),
    path("indicators/<int:indicator_id>/", indicator_views.indicator_page, name="indicator"),
    path("indicators/<int:indicator_id>/edit/", indicator_views.indicator_edit, name="indicator_edit"),
    # The builder and the council's template library
    path("organizations/<orgcode:code>/procedures/new/", builder_views.procedure_new, name="procedure_new"),
    path(
        "organizations/<orgcode:code>/procedures/import/",
        builder_views.import_definition,
        name="procedure_import",
    ),
    path("procedures/<int:procedure_id>/build/", builder_views.builder_page, name="builder"),
    path(
        "procedures/<int:procedure_id>/build/settings/",
        builder_views.builder_settings,
        name="builder_settings",
    ),
    path(
        "procedures/<int:procedure_id>/build/fields/new/", builder_views.field_new, name="builder_field_new"
    ),
    path(
        "procedures/<int:procedure_id>/build/fields/<slug:key>/",
        builder_views.field_edit,
        name="builder_field",
    ),
    path(
        "procedures/<int:procedure_id>/build/fields/<slug:key>/<slug:action>/",
        builder_views.field_action,
        name="builder_field_action",
    ),
    path(
        "procedures/<int:procedure_id>/build/receipt/", builder_views.email_field, name="builder_email_field"
    ),
    path("procedures/<int:procedure_id>/build/pages/", builder_views.pages, name="builder_pages"),
    path(
        "procedures/<int:procedure_id>/build/pages/<slug:page_key>/",
        builder_views.page_edit,
        name="builder_page",
    ),
    path(
        "procedures/<int:procedure_id>/build/pages/<slug:page_key>/<slug:action>/",
        builder_views.page_action,
        name="builder_page_action",
    ),
    path("procedures/<int:procedure_id>/build/publish/", builder_views.publish, name="builder_publish"),
    path("procedures/<int:procedure_id>/build/discard/", builder_views.discard, name="builder_discard"),
    path(
        "procedures/<int:procedure_id>/build/status/", builder_views.procedure_status, name="builder_status"
    ),
    path("procedures/<int:procedure_id>/build/preview/", builder_views.preview, name="builder_preview"),
    path("procedures/<int:procedure_id>/build/update/", builder_views.update_review, name="builder_update"),
    path("procedures/<int:procedure_id>/versions/", builder_views.versions, name="versions"),
    path(
        "procedures/<int:procedure_id>/versions/<int:number>/publish/",
        builder_views.version_publish,
        name="version_publish",
    ),
    path(
        "procedures/<int:procedure_id>/definition.json",
        builder_views.export_definition,
        name="procedure_export",
    ),
    path("procedures/<int:procedure_id>/share/", builder_views.share, name="procedure_share"),
    path("procedures/<int:procedure_id>/distribute/", builder_views.distribute, name="procedure_distribute"),
    path("templates/", builder_views.template_list, name="templates"),
    path("templates/<int:template_id>/", builder_views.template_detail, name="template"),
    path("templates/<int:template_id>/copy/", builder_views.template_copy, name="template_copy"),
]

# パスキー (accounts/passkeys.py): the JSON steps django-otp-webauthn's script calls, under its namespace
passkey_patterns = [
    path("register/begin/", passkeys.BeginRegistration.as_view(), name="credential-registration-begin"),
    path(
        "register/complete/", passkeys.CompleteRegistration.as_view(), name="credential-registration-complete"
    ),
    path("verify/begin/", passkeys.BeginAuthentication.as_view(), name="credential-authentication-begin"),
    path(
        "verify/complete/",
        passkeys.CompleteAuthentication.as_view(),
        name="credential-authentication-complete",
    ),
    path("jsi18n/", passkeys.catalog, name="js-i18n-catalog"),
]

urlpatterns = [
    path("healthz", org_views.healthz, name="healthz"),
    path("csp-report/", csp_report, name="csp_report"),
    path("readyz", org_views.readyz, name="readyz"),
    # The operator logs in on the staff login too (lockout and second factor in one place)
    path("admin/login/", account_views.admin_login),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("staff/passkeys/", include((passkey_patterns, "otp_webauthn"))),
    path("staff/", include((staff_patterns, "staff"))),
    path("", include((public_patterns, "public"))),
]

handler400 = "madoguchi.organizations.views.bad_request"
handler403 = "madoguchi.errors.forbidden"  # the staff area keeps its header (madoguchi/errors.py)
handler404 = "madoguchi.errors.not_found"
handler500 = "madoguchi.organizations.views.server_error"
