"""担当範囲: an organization's admin limits a staff member to the procedures of their 所属.

The one write path for Membership.limited_to_departments; accounts/access.py enforces it (the rules are in
that module's docstring: a limited member gets 404 on every procedure outside their 所属, a procedure with
no 所属 included, and an admin is never limited).
"""

from django.db import transaction
from django.utils.translation import gettext

from madoguchi.accounts.models import Membership, Role
from madoguchi.accounts.services import StaffError
from madoguchi.audit.services import record


@transaction.atomic
def set_department_limit(*, actor, membership: Membership, limited: bool) -> Membership:
    """Limit `membership` to its 所属's procedures (limited=True) or lift the limit; audited as
    "staff.scope" with {"email", "from", "to"} (booleans). Nothing is recorded when nothing changes.

    An admin is never limited: for an admin the limit is stored as False whatever is asked. Raises
    StaffError (field "departments") when asked to limit a member who has no 所属 (they would reach
    nothing at all).
    """
    current = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "organization")
        .get(pk=membership.pk)
    )
    limited = bool(limited) and current.role != Role.ADMIN
    if limited and not current.departments.exists():
        raise StaffError(
            gettext(
                "所属を選ばずに「所属の手続だけに限る」にすると、どの手続も開けなくなります。"
                "所属を選ぶか、チェックを外してください"
            ),
            field="departments",
        )
    if current.limited_to_departments == limited:
        return current
    record(
        organization=current.organization,
        actor=actor,
        action="staff.scope",
        obj=current.user,
        detail={
            "email": current.user.email or current.user.get_username(),
            "from": current.limited_to_departments,
            "to": limited,
        },
    )
    current.limited_to_departments = limited
    current.save(update_fields=["limited_to_departments"])
    membership.limited_to_departments = limited
    return current
