from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from madoguchi.accounts import access, login_security, reauth, scope, services, staff_sessions, two_factor
from madoguchi.accounts.forms import (
    InviteForm,
    MembershipForm,
    PasswordResetRequestForm,
    StaffSetPasswordForm,
)
from madoguchi.accounts.models import Role
from madoguchi.stats.services import status_counts
from madoguchi.submissions.models import Status


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """My organizations' procedures, each with its submissions counted by status."""
    roles = access.roles_for_user(request.user)
    organizations = list(access.organizations_for_user(request.user).order_by("code"))
    procedures = list(
        access.procedures_for_user(request.user)  # 担当範囲: a member limited to their 所属 sees theirs only
        .filter(organization__in=organizations)
        .select_related("department", "organization", "source_procedure__organization")
        .order_by("organization__code", "title")
    )
    visible = [p.pk for p in procedures if roles.get(p.organization_id) in access.SEE_ANSWERS]
    counts = status_counts(visible)
    statuses = [s for s in Status if s != Status.DRAFT]
    by_org = []
    for organization in organizations:
        items = [
            {
                "procedure": p,
                "counts": [counts.get(p.pk, {}).get(s.value, 0) for s in statuses],
                "can_open": p.pk in visible,
            }
            for p in procedures
            if p.organization_id == organization.pk
        ]
        by_org.append(
            {"organization": organization, "role": Role(roles[organization.pk]).label, "items": items}
        )
    return render(
        request,
        "staff/home.html",
        {
            "by_org": by_org,
            "statuses": statuses,
            "councils": access.councils_for_user(request.user),
            "admin_of": [o for o in organizations if roles[o.pk] in access.ADMIN],
            "builder_of": [o for o in organizations if roles[o.pk] in access.BUILD],
        },
    )


# ------------------------------------------------------------------------------------------------
# 職員の管理: the organization's admin invites, changes and removes its staff
# ------------------------------------------------------------------------------------------------


def _member_row(membership) -> dict:
    user = membership.user
    return {
        "membership": membership,
        "user": user,
        "name": user.get_full_name(),
        "role": Role(membership.role).label,
        "departments": "、".join(d.name for d in membership.departments.all()),
        "active": user.is_active,
        "invited": user.is_active and not user.has_usable_password(),
    }


@login_required
def staff_list(request: HttpRequest, code: str) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    rows = [_member_row(m) for m in access.staff_of_organization(organization)]
    with_second_factor = two_factor.users_with_second_factor([r["user"].pk for r in rows])
    for r in rows:
        r["two_factor"] = r["user"].pk in with_second_factor
    return render(request, "staff/accounts/list.html", {"organization": organization, "rows": rows})


# Shown on the invite and edit pages under each role, so the admin picks knowing what it allows.
ROLE_CHOICES = [
    (Role.ADMIN, Role.ADMIN.label, gettext_lazy("すべての操作、職員の管理、監査ログ")),
    (Role.EDITOR, Role.EDITOR.label, gettext_lazy("手続とフォームの作成・変更（申請内容は見られません）")),
    (Role.PROCESSOR, Role.PROCESSOR.label, gettext_lazy("申請の閲覧・処理・出力")),
    (Role.VIEWER, Role.VIEWER.label, gettext_lazy("申請の閲覧のみ")),
]


# Where the error summary's link for each field goes (the first input of a group).
ERROR_ANCHORS = {
    "email": "id_email",
    "name": "id_name",
    "role": "role-admin",
    "departments": "departments",
}


def _form_context(organization, form, **extra) -> dict:
    error_list = [
        (ERROR_ANCHORS.get(field), message) for field, texts in form.errors.items() for message in texts
    ]
    return {
        "organization": organization,
        "form": form,
        "roles": ROLE_CHOICES,
        "error_list": error_list,
        **extra,
    }


@login_required
def staff_invite(request: HttpRequest, code: str) -> HttpResponse:
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    if request.method == "POST" and (confirm := reauth.check(request)) is not None:  # 本人確認 first
        return confirm
    departments = list(access.departments_of_organization(organization))
    if request.method != "POST":
        form = InviteForm(
            organization=organization, departments=departments, initial={"role": Role.PROCESSOR}
        )
        return render(request, "staff/accounts/invite.html", _form_context(organization, form))
    form = InviteForm(request.POST, organization=organization, departments=departments)
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.invite_staff(
                actor=request.user,
                organization=organization,
                email=data["email"],
                name=data["name"],
                role=data["role"],
                department_ids=data["departments"],
            )
        except services.StaffError as exc:
            form.add_error(exc.field or None, str(exc))
        else:
            messages.success(
                request,
                gettext("%(email)s を%(role)sとして登録し、お知らせのメールを送りました。")
                % {"email": membership.user.email, "role": Role(membership.role).label},
            )
            return redirect("staff:staff_list", code=organization.code)
    return render(request, "staff/accounts/invite.html", _form_context(organization, form), status=400)


@login_required
def staff_edit(request: HttpRequest, code: str, membership_id: int) -> HttpResponse:
    membership = access.access_membership_for_user(request.user, code, membership_id)
    if request.method == "POST" and (confirm := reauth.check(request)) is not None:  # 本人確認 first
        return confirm
    organization = membership.organization
    departments = list(access.departments_of_organization(organization))
    context = {
        "row": _member_row(membership),
        "is_self": membership.user_id == request.user.pk,
        "locked_out": login_security.is_locked_out(membership.user),
        "two_factor": two_factor.is_enabled(membership.user),
    }
    if request.method != "POST":
        initial = {"role": membership.role, "departments": [str(d.pk) for d in membership.departments.all()]}
        form = MembershipForm(organization=organization, departments=departments, initial=initial)
        context["limited"] = membership.limited_to_departments
        return render(request, "staff/accounts/edit.html", _form_context(organization, form, **context))
    form = MembershipForm(request.POST, organization=organization, departments=departments)
    # 担当範囲: the checkbox beside 所属 (accounts/scope.py); kept as typed when the page comes back.
    context["limited"] = request.POST.get("limited_to_departments") == "1"
    if form.is_valid():
        try:
            with transaction.atomic():  # role, 所属 and 担当範囲 are saved together or not at all
                services.change_membership(
                    actor=request.user,
                    membership=membership,
                    role=form.cleaned_data["role"],
                    department_ids=form.cleaned_data["departments"],
                )
                scope.set_department_limit(
                    actor=request.user, membership=membership, limited=context["limited"]
                )
        except services.StaffError as exc:
            form.add_error(exc.field or None, str(exc))
        else:
            messages.success(request, gettext("%(email)s の役割と所属を保存しました。") % _who(membership))
            if access.roles_for_user(request.user).get(organization.pk) not in access.ADMIN:
                return redirect("staff:home")  # the admin made themselves something else
            return redirect("staff:staff_list", code=organization.code)
    return render(
        request, "staff/accounts/edit.html", _form_context(organization, form, **context), status=400
    )


def _who(membership) -> dict:
    return {"email": membership.user.email or membership.user.get_username()}


@login_required
def staff_remove(request: HttpRequest, code: str, membership_id: int) -> HttpResponse:
    membership = access.access_membership_for_user(request.user, code, membership_id)
    if request.method == "POST" and (confirm := reauth.check(request)) is not None:  # 本人確認 first
        return confirm
    organization = membership.organization
    context = {
        "organization": organization,
        "row": _member_row(membership),
        "is_self": membership.user_id == request.user.pk,
    }
    if request.method != "POST":
        return render(request, "staff/accounts/remove.html", context)
    try:
        switched_off = services.remove_membership(actor=request.user, membership=membership)
    except services.StaffError as exc:
        return render(request, "staff/accounts/remove.html", {**context, "error": str(exc)}, status=400)
    if switched_off:
        message = gettext(
            "%(email)s を職員から外しました。ほかの団体に所属していないため、ログインもできなくなりました。"
        )
    else:
        message = gettext("%(email)s を職員から外しました。")
    messages.success(request, message % _who(membership))
    if context["is_self"]:
        return redirect("staff:home")
    return redirect("staff:staff_list", code=organization.code)


@require_POST
@login_required
def staff_resend_invitation(request: HttpRequest, code: str, membership_id: int) -> HttpResponse:
    membership = access.access_membership_for_user(request.user, code, membership_id)
    try:
        services.resend_invitation(actor=request.user, membership=membership)
    except services.StaffError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, gettext("%(email)s に招待のメールをもう一度送りました。") % _who(membership)
        )
    return redirect("staff:staff_edit", code=membership.organization.code, membership_id=membership.pk)


@login_required
@require_POST
def staff_end_sessions(request: HttpRequest, code: str, membership_id: int) -> HttpResponse:
    """「この職員のログインをすべて終わらせる」: an admin signs a colleague out everywhere (audited)."""
    membership = access.access_membership_for_user(request.user, code, membership_id)
    if membership.user_id == request.user.pk:
        raise Http404  # one's own logins: 「ログイン中の端末」
    if (confirm := reauth.check(request)) is not None:
        return confirm
    with transaction.atomic():
        ended = staff_sessions.end_member_logins(
            user=membership.user, actor=request.user, organization=membership.organization
        )
    messages.success(
        request,
        ngettext(
            "%(email)s のログインを%(count)s件終わらせました。",
            "%(email)s のログインを%(count)s件終わらせました。",
            ended,
        )
        % {**_who(membership), "count": ended},
    )
    return redirect("staff:staff_edit", code=membership.organization.code, membership_id=membership.pk)


@login_required
@require_POST
def staff_unlock(request: HttpRequest, code: str, membership_id: int) -> HttpResponse:
    """「ロックを解除」: an admin lifts the login lockout of one of the organization's staff (audited)."""
    membership = access.access_membership_for_user(request.user, code, membership_id)
    login_security.unlock(user=membership.user, actor=request.user, organization=membership.organization)
    messages.success(request, gettext("%(email)s のログインのロックを解除しました。") % _who(membership))
    return redirect("staff:staff_edit", code=membership.organization.code, membership_id=membership.pk)


# ------------------------------------------------------------------------------------------------
# Forgotten password and the set-password link (Django's views, our forms and outbox)
# ------------------------------------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """「パスワードを忘れた方」: the same answer whether or not the address is known."""

    form_class = PasswordResetRequestForm
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("staff:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The link from the invitation or the forgotten-password mail.

    The token arrives in the query string (?token=), which the access log leaves out; Django's view keeps
    it in the session and redirects at once to this path without it, and checks it again on the POST.
    """

    form_class = StaffSetPasswordForm
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("staff:password_reset_complete")

    def dispatch(self, request, *args, **kwargs):
        kwargs["token"] = request.GET.get("token") or self.reset_url_token
        return super().dispatch(request, *args, **kwargs)

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and services.can_use_set_password_link(user) else None

    def form_valid(self, form):
        try:
            services.set_password_from_link(user=self.user, password=form.cleaned_data["new_password1"])
        except ValidationError as exc:
            form.add_error("new_password2", exc)
            return self.form_invalid(form)
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


# ------------------------------------------------------------------------------------------------
# My logins on other devices
# ------------------------------------------------------------------------------------------------


@login_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    """「ログイン中の端末」: the member's own logins, the current one marked; the others can be ended."""
    logins = staff_sessions.logins_of(request.user, request.session.session_key)
    return render(request, "staff/sessions.html", {"logins": logins})


@login_required
@require_POST
def my_sessions_end(request: HttpRequest) -> HttpResponse:
    """End one other login (`login` in the post) or every other one; a login not the member's own is 404."""
    raw = request.POST.get("login", "")
    login_id = int(raw) if raw.isdigit() and len(raw) < 12 else None
    if raw and login_id is None:
        raise Http404
    ended = staff_sessions.end_logins(
        user=request.user, current_key=request.session.session_key, login_id=login_id
    )
    if login_id is not None and not ended:
        raise Http404
    messages.success(
        request,
        ngettext(
            "ほかの端末でのログインを%(count)s件終わらせました。",
            "ほかの端末でのログインを%(count)s件終わらせました。",
            ended,
        )
        % {"count": ended},
    )
    return redirect("staff:my_sessions")


def admin_login(request: HttpRequest) -> HttpResponse:
    """/admin/login/: the operator logs in on the staff login page (one lockout, one second factor)."""
    from django.utils.http import url_has_allowed_host_and_scheme, urlencode

    target = request.GET.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/admin/"
    return redirect(reverse("staff:login") + "?" + urlencode({"next": target}))
