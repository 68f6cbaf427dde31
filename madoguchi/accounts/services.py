"""Staff accounts of one organization, run by that organization's own admin.

Invite a colleague, change their role and 所属, remove them, and the set-password links (the invitation
and the forgotten password). Each function is the one write path for its action: it checks the rules,
records an audit row and queues its e-mail in the same transaction, so the database is the outbox and
nothing is sent before the change commits.

Errors the person can fix are raised as StaffError, whose str() is a message to show in the page's
language and whose `field` names the input it belongs to ("" for the page as a whole).

The set-password link carries Django's password-reset token (default_token_generator): it stops working
after PASSWORD_RESET_TIMEOUT, once the password is set, and after the next login. The token is put in
the query string, which the access log leaves out (gunicorn.conf.py), and is never logged here.
"""

import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

from madoguchi.accounts import two_factor
from madoguchi.accounts.models import CouncilRole, Membership, Role
from madoguchi.audit.services import record
from madoguchi.lib import japanese as ja
from madoguchi.lib.params import parse_id
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.notifications.services import queue_email
from madoguchi.organizations.models import Department, Organization

User = get_user_model()

# The address is also the login name, and User.username holds 150 characters.
INVITE_EMAIL_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 254  # User.email
NAME_MAX_LENGTH = 50
# At most this many forgotten-password mails to one address an hour: the form must not become a way to
# flood a colleague's mailbox.
RESET_MAILS_PER_HOUR = 3

KIND_INVITATION = "staff_invitation"
KIND_ADDED = "staff_added"
KIND_RESET_LINK = "password_reset"


class StaffError(Exception):
    """Something the admin or the person can fix; str() is the message, `field` the input it is about."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------------------------------------
# Input
# ------------------------------------------------------------------------------------------------


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text)


def normalize_staff_email(text: str, *, max_length: int = INVITE_EMAIL_MAX_LENGTH) -> str:
    """A staff e-mail address, half-width, trimmed and lower-cased (it is also the login name).

    Raises StaffError (field "email") when empty, too long, with control characters or not an address.
    """
    address = ja.to_halfwidth_ascii(text).strip()
    if not address:
        raise StaffError(
            gettext("メールアドレスを入力してください（例：taro@city.example.lg.jp）"), field="email"
        )
    if len(address) > max_length:
        raise StaffError(
            gettext("メールアドレスは%(max)s文字以内で入力してください（現在%(length)s文字です）")
            % {"max": max_length, "length": len(address)},
            field="email",
        )
    if _has_control_characters(address):
        raise StaffError(
            gettext(
                "メールアドレスに使えない文字（改行・タブなどの制御文字）が含まれています。取り除いてください"
            ),
            field="email",
        )
    try:
        return ja.normalize_email(address).lower()
    except ja.InputError as exc:
        raise StaffError(str(exc), field="email") from exc


def normalize_staff_name(text: str) -> str:
    """A staff member's name as typed (NFC, trimmed; kanji kept). Raises StaffError (field "name")."""
    try:
        name = ja.normalize_name(text, max_length=NAME_MAX_LENGTH)
    except ja.InputError as exc:
        raise StaffError(str(exc), field="name") from exc
    if not name:
        raise StaffError(gettext("氏名を入力してください"), field="name")
    return name


def _check_role(role: str) -> str:
    if role not in Role.values:
        raise StaffError(gettext("役割を選んでください"), field="role")
    return role


def _departments_of(organization: Organization, department_ids: Iterable) -> list[Department]:
    """The 所属 with these ids, all of `organization`; StaffError (field "departments") otherwise."""
    ids = set()
    for value in department_ids:
        # Ids as the form sends them, or ints: ASCII digits only, and never beyond what the database holds.
        pk = None if isinstance(value, bool) else parse_id(str(value))
        if not pk:
            raise StaffError(
                gettext("所属の選び方が正しくありません。一覧から選び直してください"), field="departments"
            )
        ids.add(pk)
    departments = list(Department.objects.filter(organization=organization, pk__in=ids).order_by("name"))
    if len(departments) != len(ids):
        raise StaffError(
            gettext("選べるのは%(organization)sの所属だけです。一覧から選び直してください")
            % {"organization": organization.name},
            field="departments",
        )
    return departments


# ------------------------------------------------------------------------------------------------
# E-mail
# ------------------------------------------------------------------------------------------------


def set_password_link(user) -> tuple[str, datetime]:
    """The link that lets `user` set a password, and when it stops working."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("staff:password_reset_confirm", kwargs={"uidb64": uid})
    token = default_token_generator.make_token(user)
    expires = timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    return f"{settings.SITE_URL}{path}?{urlencode({'token': token})}", expires


def _queue_staff_email(
    *, organization: Organization, user, kind: str, template: str, subject: str, **context
):
    body = render_to_string(
        template,
        {
            "user": user,
            "organization": organization,
            "site_url": settings.SITE_URL,
            "site_name": settings.SITE_NAME,
            "login_url": settings.SITE_URL + reverse("staff:login"),
            "forgot_url": settings.SITE_URL + reverse("staff:password_reset"),
            **context,
        },
    )
    return queue_email(organization_id=organization.pk, kind=kind, to=user.email, subject=subject, body=body)


def _queue_invitation(*, organization: Organization, user, inviter) -> OutgoingEmail:
    # Staff mail is Japanese: the invitee's language is not known, whatever the admin's page shows.
    with translation.override("ja"):
        link, expires = set_password_link(user)
        return _queue_staff_email(
            organization=organization,
            user=user,
            kind=KIND_INVITATION,
            template="registration/invitation_email.txt",
            subject=gettext("【%(site)s】%(organization)sの職員として登録されました")
            % {"site": settings.SITE_NAME, "organization": organization.name},
            link=link,
            expires=expires,
            inviter=inviter,
            two_factor_required=two_factor.is_required(user),
        )


def _queue_added_notice(*, organization: Organization, user, inviter) -> OutgoingEmail:
    with translation.override("ja"):
        return _queue_staff_email(
            organization=organization,
            user=user,
            kind=KIND_ADDED,
            template="registration/added_email.txt",
            subject=gettext("【%(site)s】%(organization)sの職員として追加されました")
            % {"site": settings.SITE_NAME, "organization": organization.name},
            inviter=inviter,
        )


# ------------------------------------------------------------------------------------------------
# The organization's admin: invite, change, remove
# ------------------------------------------------------------------------------------------------


def _names(departments: Iterable[Department]) -> str:
    return "、".join(d.name for d in departments)


def _lock_admins(organization: Organization) -> set[int]:
    """Ids of the memberships that make an active user an admin of `organization`, locked in id order
    before any other row, so that two admins demoting or removing each other at the same moment cannot
    both succeed (the second sees the first's change) and never deadlock."""
    return set(
        Membership.objects.select_for_update(of=("self",))
        .filter(organization=organization, role=Role.ADMIN, user__is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _check_keeps_an_admin(membership: Membership, admins: set[int]) -> None:
    """Raise StaffError (field "role") when `membership` is the organization's only active admin."""
    if admins == {membership.pk}:
        raise StaffError(
            gettext(
                "%(organization)sの管理者がいなくなるため、この変更はできません。"
                "先に別の職員を管理者にしてから、もう一度操作してください。"
            )
            % {"organization": membership.organization.name},
            field="role",
        )


def _lock_membership(membership: Membership) -> tuple[Membership, set[int]]:
    admins = _lock_admins(membership.organization)
    current = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "organization")
        .get(pk=membership.pk)
    )
    return current, admins


@transaction.atomic
def invite_staff(
    *,
    actor,
    organization: Organization,
    email: str,
    name: str,
    role: str,
    department_ids: Iterable[int | str] = (),
) -> Membership:
    """Add a colleague to `organization` and e-mail them.

    A new address becomes a new user (the address is the login name) with no password and gets a
    set-password link. An address already known gets a membership: a link too if it has no password yet
    or was switched off (it is switched on again), otherwise a notice that points to the login page.

    Raises StaffError: field "email" (empty, too long, not an address, already staff here, or two users
    share it), "name", "role", or "departments" (not of this organization).
    """
    email = normalize_staff_email(email)
    name = normalize_staff_name(name)
    role = _check_role(role)
    departments = _departments_of(organization, department_ids)

    existing = list(
        User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).order_by("pk")[:2]
    )
    if len(existing) > 1:
        raise StaffError(
            gettext("このメールアドレスの利用者が複数登録されています。運用担当者に連絡してください"),
            field="email",
        )
    try:
        with transaction.atomic():  # a savepoint: an address invited twice at once is refused, not a 500
            if existing:
                user = existing[0]
                if Membership.objects.filter(user=user, organization=organization).exists():
                    raise StaffError(
                        gettext("この方はすでに%(organization)sの職員です。役割と所属は一覧から変更できます")
                        % {"organization": organization.name},
                        field="email",
                    )
                needs_link = not user.has_usable_password() or not user.is_active
                changed = []
                if not user.is_active:
                    user.is_active = True
                    changed.append("is_active")
                if not user.email:
                    user.email = email
                    changed.append("email")
                # An account that exists belongs to its holder: another organization's invitation never
                # renames it (the name typed here is for new accounts only).
                if changed:
                    user.save(update_fields=changed)
                new_user = False
            else:
                user = User.objects.create_user(username=email, email=email, password=None, last_name=name)
                needs_link = new_user = True
            membership = Membership.objects.create(user=user, organization=organization, role=role)
    except IntegrityError as exc:
        raise StaffError(
            gettext("同じメールアドレスの登録が同時に行われました。一覧を確かめてください"), field="email"
        ) from exc
    membership.departments.set(departments)
    record(
        organization=organization,
        actor=actor,
        action="staff.invite",
        obj=user,
        detail={"email": email, "role": role, "departments": _names(departments), "new_user": new_user},
    )
    if needs_link:
        _queue_invitation(organization=organization, user=user, inviter=actor)
    else:
        _queue_added_notice(organization=organization, user=user, inviter=actor)
    return membership


@transaction.atomic
def resend_invitation(*, actor, membership: Membership) -> OutgoingEmail:
    """Send a new set-password link to a member who has not set a password yet.

    Raises StaffError when they already have one (they can use 「パスワードを忘れた方」) or have no address.
    """
    user = membership.user
    if user.has_usable_password():
        raise StaffError(
            gettext(
                "この方はすでにパスワードを設定しています。忘れたときはログイン画面の「パスワードを忘れた方」から再設定できます"
            )
        )
    if not user.email:
        raise StaffError(gettext("この方のメールアドレスが登録されていません。運用担当者に連絡してください"))
    record(
        organization=membership.organization,
        actor=actor,
        action="staff.invite_resend",
        obj=user,
        detail={"email": user.email},
    )
    return _queue_invitation(organization=membership.organization, user=user, inviter=actor)


@transaction.atomic
def change_membership(
    *, actor, membership: Membership, role: str, department_ids: Iterable[int | str]
) -> Membership:
    """Set a member's role and 所属 (each change recorded on its own; nothing recorded if nothing changed).

    Raises StaffError: field "role" (not a role, or the organization would be left without an admin),
    "departments" (not of this organization).
    """
    role = _check_role(role)
    departments = _departments_of(membership.organization, department_ids)
    current, admins = _lock_membership(membership)
    email = current.user.email or current.user.get_username()
    if current.role != role:
        if role != Role.ADMIN:
            _check_keeps_an_admin(current, admins)
        record(
            organization=current.organization,
            actor=actor,
            action="staff.role",
            obj=current.user,
            detail={"email": email, "from": current.role, "to": role},
        )
        current.role = role
        current.save(update_fields=["role"])
    before = list(current.departments.order_by("name"))
    if {d.pk for d in before} != {d.pk for d in departments}:
        current.departments.set(departments)
        record(
            organization=current.organization,
            actor=actor,
            action="staff.departments",
            obj=current.user,
            detail={"email": email, "from": _names(before), "to": _names(departments)},
        )
    return current


@transaction.atomic
def remove_membership(*, actor, membership: Membership) -> bool:
    """Take a member out of the organization. A user left in no organization (and with no council role,
    and not the operator) is switched off: is_active=False, so any open session of theirs ends too.

    Returns whether the user was switched off. Raises StaffError when the organization would be left
    without an admin.
    """
    current, admins = _lock_membership(membership)
    _check_keeps_an_admin(current, admins)
    user = current.user
    record(
        organization=current.organization,
        actor=actor,
        action="staff.remove",
        obj=user,
        detail={"email": user.email or user.get_username(), "role": current.role},
    )
    current.delete()
    switch_off = (
        user.is_active
        and not user.is_superuser
        and not Membership.objects.filter(user=user).exists()
        and not CouncilRole.objects.filter(user=user).exists()
    )
    if switch_off:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return switch_off


# ------------------------------------------------------------------------------------------------
# Set-password links
# ------------------------------------------------------------------------------------------------


def _home_organization(user) -> Organization | None:
    """Where a staff member's mail is filed in the outbox: their first organization, or their council's
    secretariat. None for a user of neither (the operator resets with `manage.py changepassword`)."""
    membership = Membership.objects.filter(user=user).select_related("organization").order_by("pk").first()
    if membership is not None:
        return membership.organization
    council_role = CouncilRole.objects.filter(user=user).select_related("council__secretariat").first()
    return council_role.council.secretariat if council_role is not None else None


@transaction.atomic
def request_password_reset(*, email: str, language: str = "ja") -> None:
    """Queue a set-password link to every active staff user with this address, in `language`.

    Returns nothing on purpose: whether the address is known must not reach the page. An address that
    is not one, unknown, or already sent RESET_MAILS_PER_HOUR links this hour, quietly gets nothing.
    """
    try:
        email = normalize_staff_email(email, max_length=EMAIL_MAX_LENGTH)
    except StaffError:
        return
    since = timezone.now() - timedelta(hours=1)
    sent = OutgoingEmail.objects.filter(kind=KIND_RESET_LINK, to__iexact=email, created_at__gte=since).count()
    for user in User.objects.filter(email__iexact=email, is_active=True).order_by("pk"):
        organization = _home_organization(user)
        if organization is None or sent >= RESET_MAILS_PER_HOUR:
            continue
        with translation.override(language):
            link, expires = set_password_link(user)
            _queue_staff_email(
                organization=organization,
                user=user,
                kind=KIND_RESET_LINK,
                template="registration/password_reset_email.txt",
                subject=gettext("【%(site)s】パスワードの再設定") % {"site": settings.SITE_NAME},
                link=link,
                expires=expires,
            )
        sent += 1


def can_use_set_password_link(user) -> bool:
    """Only active users may set a password through a link (a removed member's old link does nothing)."""
    return user.is_active


@transaction.atomic
def set_password_from_link(*, user, password: str) -> None:
    """Set the password of `user`, who opened a valid link (the caller checked the token), and record it
    in each of their organizations. Raises django.core.exceptions.ValidationError for a weak password."""
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    organizations = [
        m.organization for m in Membership.objects.filter(user=user).select_related("organization")
    ]
    for organization in organizations or [None]:
        record(
            organization=organization,
            actor=user,
            action="staff.password_set",
            obj=user,
            detail={"email": user.email},
        )
