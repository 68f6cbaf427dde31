"""INSERT statements from model instances: a row kind's plan refuses to freeze what differs per row."""

from datetime import UTC, datetime

import pytest

from madoguchi.lib.sql import InsertPlan, insert_sql
from madoguchi.notifications.models import OutgoingEmail

NOW = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


def email(to="a@example.jp"):
    return OutgoingEmail(organization_id=1, kind="receipt", to=to, subject="", created_at=NOW)


@pytest.mark.django_db
def test_a_plan_refuses_to_share_a_value_save_would_set_for_each_row():
    with pytest.raises(ValueError, match="created_at"):
        InsertPlan(email(), varying={"to"})  # created_at is auto_now_add: it must vary
    with pytest.raises(ValueError, match="sent_at"):
        InsertPlan(email(), varying={"to", "created_at", "sent_at"})  # sent_at is None: a NULL, not a value


@pytest.mark.django_db
def test_a_plan_gives_the_values_insert_sql_gives_with_the_varying_ones_replaced():
    plan = InsertPlan(email(), varying={"to", "created_at"})
    later = datetime(2027, 1, 1, tzinfo=UTC)
    row = email(to="b@example.jp")
    sql, params = insert_sql(row)  # as save() does, this stamps row.created_at with the time now
    assert plan.sql == sql
    assert plan.params(row) == params
    assert plan.params(row, created_at=later) != params
    assert "NULL" in sql and None not in params  # no value is a NULL literal, not a parameter
