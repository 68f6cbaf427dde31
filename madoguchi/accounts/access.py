"""Fetch-and-authorise helpers: the only way staff code reads organization-owned rows.

Anything outside the user's organizations is a 404, so an outsider cannot even learn that it exists.
A user inside the organization whose role does not allow the action gets a 403.

担当範囲 (department scope): a member whose Membership.limited_to_departments is set reaches only the
procedures whose 所属 is one of theirs, with those procedures' submissions, attachments and export files;
anything else of the organization is a 404 for them, exactly as for an outsider. The rules:
- a procedure with no 所属 is outside every limited member's reach (nobody owns it yet: the admin gives
  it a 所属, or the member's limit is lifted);
- an admin is never limited (an admin could lift the limit anyway); the flag is ignored for them;
- organization-wide pages (the staff list, 所属, the audit log) stay as the role allows.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
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


def _require_in_scope(user, organization_id: int, department_id: int | None, allowed: frozenset) -> str:
    """The user's role in the organization, for an object of the 所属 `department_id` (None: no 所属).

    Raises Http404 when the user is not a member, or is limited to their 所属 and this is not one of them
    (before the role is looked at: a limited member must not learn that the object exists); then
    PermissionDenied when the role is not in `allowed`. One query, two for a limited member.
    """
    if not user.is_authenticated:
        raise Http404
    row = (
        Membership.objects.filter(user=user, organization_id=organization_id)
        .values_list("pk", "role", "limited_to_departments")
        .first()
    )
    if row is None:
        raise Http404
    membership_id, role, limited = row
    if limited and role != Role.ADMIN:
        if (
            department_id is None
            or not Membership.departments.through.objects.filter(
                membership_id=membership_id, department_id=department_id
            ).exists()
        ):
            raise Http404
    if role not in allowed:
        raise PermissionDenied
    return role


def is_limited_to_departments(user, organization: Organization) -> bool:
    """Whether the user reaches only their 所属's procedures in `organization` (never for admins or
    non-members)."""
    return (
        Membership.objects.filter(user=user, organization=organization, limited_to_departments=True)
        .exclude(role=Role.ADMIN)
        .exists()
    )


def departments_for_user(user, organization: Organization):
    """The 所属 of `organization` the user may give a procedure, by name: all of them, or only their own
    when they are limited to their 所属 (a procedure given any other would be out of their reach at once).
    `organization` comes from an access_ helper; a user who is not its member gets none."""
    from madoguchi.organizations.models import Department

    membership = Membership.objects.filter(user=user, organization=organization).first()
    if membership is None:
        return Department.objects.none()
    departments = Department.objects.filter(organization=organization)
    if membership.limited_to_departments and membership.role != Role.ADMIN:
        departments = departments.filter(members=membership)
    return departments.order_by("name")


def procedures_for_user(user) -> QuerySet[Procedure]:
    """Every procedure the user may reach as staff: all of their organizations' procedures, but only
    their 所属's ones in an organization where they are limited to their 所属 (see the module's rules)."""
    if not user.is_authenticated:
        return Procedure.objects.none()
    whole = Membership.objects.filter(user=user).filter(Q(limited_to_departments=False) | Q(role=Role.ADMIN))
    # A membership's 所属 are of its own organization (accounts/services.py and the integrity triggers).
    own_departments = Membership.departments.through.objects.filter(
        membership__user=user, membership__limited_to_departments=True
    ).exclude(membership__role=Role.ADMIN)
    return Procedure.objects.filter(
        Q(organization_id__in=whole.values("organization_id"))
        | Q(department_id__in=own_departments.values("department_id"))
    )


def access_organization_for_user(user, code: str, allowed: frozenset = ANY) -> Organization:
    organization = organizations_for_user(user).filter(code=code).first()
    if organization is None:
        raise Http404
    _require(user, organization.pk, allowed)
    return organization


def access_disposal_list_for_user(user, code: str, list_id: int):
    """One 廃棄の一覧 of the organization `code`, for its admin (an outsider 404, a non-admin member 403)."""
    from madoguchi.submissions.models import DisposalList

    organization = access_organization_for_user(user, code, ADMIN)
    disposal_list = DisposalList.objects.filter(pk=list_id, organization=organization).first()
    if disposal_list is None:
        raise Http404
    return disposal_list


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
    _require_in_scope(user, procedure.organization_id, procedure.department_id, allowed)
    return procedure


def access_submission_for_user(user, submission_id: int, allowed: frozenset = SEE_ANSWERS) -> Submission:
    submission = (
        Submission.objects.filter(pk=submission_id, organization__memberships__user=user)
        .select_related("procedure", "organization", "form_version", "assignee")
        .first()
    )
    if submission is None:
        raise Http404
    _require_in_scope(user, submission.organization_id, submission.procedure.department_id, allowed)
    return submission


def access_attachment_for_user(user, submission: Submission, attachment_id: int) -> Attachment:
    """An attachment of `submission`, which the caller got from access_submission_for_user (so the
    organization, the role and the 担当範囲 are already checked); 404 for any other attachment."""
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
    _require_in_scope(user, export.organization_id, export.procedure.department_id, allowed)
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


def access_working_group_for_user(user, council_id: int, group_id: int):
    """(council, 部会) for the council's secretariat staff; 404 for anyone else or another council's 部会."""
    council = access_council_for_user(user, council_id)
    group = council.working_groups.filter(pk=group_id).first()
    if group is None:
        raise Http404
    return council, group


def processors_of_procedure(procedure: Procedure):
    """The staff who may process a procedure's submissions (the assignees it may be given), by username: its
    organization's admins and processors, less those limited to 所属 that do not include the procedure's."""
    from django.contrib.auth import get_user_model

    members = Membership.objects.filter(organization_id=procedure.organization_id, role__in=PROCESS)
    reach = Q(limited_to_departments=False) | Q(role=Role.ADMIN)
    if procedure.department_id:
        reach |= Q(departments=procedure.department_id)
    return (
        get_user_model().objects.filter(pk__in=members.filter(reach).values("user_id")).order_by("username")
    )
