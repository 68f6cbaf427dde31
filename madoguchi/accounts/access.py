"""Fetch-and-authorise helpers: the only way staff code reads organization-owned rows.

Anything outside the user's organizations is a 404, so an outsider cannot even learn that it exists.
A user inside the organization whose role does not allow the action gets a 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from madoguchi.accounts.models import CouncilRole, Membership, Role
from madoguchi.organizations.models import Council, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.submissions.models import Attachment, ExportFile, Submission

SEE_ANSWERS = frozenset({Role.ADMIN, Role.PROCESSOR, Role.VIEWER})
PROCESS = frozenset({Role.ADMIN, Role.PROCESSOR})
ADMIN = frozenset({Role.ADMIN})
BUILD = frozenset({Role.ADMIN, Role.EDITOR})  # make, change and publish procedures
ANY = frozenset(Role.values)


def organizations_for_user(user) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(memberships__user=user).distinct()


def roles_for_user(user) -> dict[int, str]:
    """organization id → role of this user."""
    if not user.is_authenticated:
        return {}
    return dict(Membership.objects.filter(user=user).values_list("organization_id", "role"))


def _role(user, organization_id: int) -> str:
    role = roles_for_user(user).get(organization_id)
    if role is None:
        raise Http404
    return role


def _require(user, organization_id: int, allowed: frozenset) -> str:
    role = _role(user, organization_id)
    if role not in allowed:
        raise PermissionDenied
    return role


def access_organization_for_user(user, code: str, allowed: frozenset = ANY) -> Organization:
    organization = organizations_for_user(user).filter(code=code).first()
    if organization is None:
        raise Http404
    _require(user, organization.pk, allowed)
    return organization


def access_membership_for_user(user, code: str, membership_id: int, allowed: frozenset = ADMIN) -> Membership:
    """One staff member of the organization `code`, for its admin. An outsider gets 404, a member who is
    not an admin 403, and a member of another organization (even the user's own) 404."""
    organization = access_organization_for_user(user, code, allowed)
    membership = (
        Membership.objects.filter(pk=membership_id, organization=organization)
        .select_related("user", "organization")
        .first()
    )
    if membership is None:
        raise Http404
    return membership


def staff_of_organization(organization: Organization) -> QuerySet[Membership]:
    """The organization's staff with their users and 所属; the organization comes from an access_ helper."""
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .prefetch_related("departments")
        .order_by("user__username")
    )


def departments_of_organization(organization: Organization):
    """The organization's 所属 (課), by name; the organization comes from an access_ helper."""
    from madoguchi.organizations.models import Department

    return Department.objects.filter(organization=organization).order_by("name")


def access_procedure_for_user(user, procedure_id: int, allowed: frozenset = ANY) -> Procedure:
    procedure = (
        Procedure.objects.filter(pk=procedure_id, organization__memberships__user=user)
        .select_related("organization", "department", "current_version")
        .first()
    )
    if procedure is None:
        raise Http404
    _require(user, procedure.organization_id, allowed)
    return procedure


def access_submission_for_user(user, submission_id: int, allowed: frozenset = SEE_ANSWERS) -> Submission:
    submission = (
        Submission.objects.filter(pk=submission_id, organization__memberships__user=user)
        .select_related("procedure", "organization", "form_version", "assignee")
        .first()
    )
    if submission is None:
        raise Http404
    _require(user, submission.organization_id, allowed)
    return submission


def access_attachment_for_user(user, submission: Submission, attachment_id: int) -> Attachment:
    attachment = Attachment.objects.filter(
        pk=attachment_id, submission=submission, organization_id=submission.organization_id
    ).first()
    if attachment is None:
        raise Http404
    return attachment


def access_export_file_for_user(user, export_id: int, allowed: frozenset = PROCESS) -> ExportFile:
    export = (
        ExportFile.objects.filter(pk=export_id, organization__memberships__user=user)
        .select_related("procedure", "organization")
        .first()
    )
    if export is None:
        raise Http404
    _require(user, export.organization_id, allowed)
    return export


def councils_for_user(user) -> QuerySet[Council]:
    if not user.is_authenticated:
        return Council.objects.none()
    return Council.objects.filter(pk__in=CouncilRole.objects.filter(user=user).values("council_id"))


def access_council_for_user(user, council_id: int) -> Council:
    council = councils_for_user(user).filter(pk=council_id).first()
    if council is None:
        raise Http404
    return council


def access_template_for_user(user, template_id: int):
    """A template of a council that one of the user's organizations belongs to; 404 otherwise."""
    from madoguchi.procedures.models import ProcedureTemplate

    template = (
        ProcedureTemplate.objects.filter(pk=template_id, council__members__memberships__user=user)
        .select_related("council", "organization")
        .first()
    )
    if template is None:
        raise Http404
    return template


def templates_for_user(user):
    from madoguchi.procedures.models import ProcedureTemplate

    if not user.is_authenticated:
        return ProcedureTemplate.objects.none()
    councils = Council.objects.filter(members__memberships__user=user)
    return ProcedureTemplate.objects.filter(council__in=councils)
