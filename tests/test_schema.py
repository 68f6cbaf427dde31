"""The schema as migrations leave it on PostgreSQL, where every index costs each submission a write."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.database("postgresql")]


def test_submissions_carry_no_index_another_covers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'submissions_submission'")
        indexes = sorted(row[0].split(" USING btree ")[1] for row in cursor.fetchall())
    assert indexes == [
        "(assignee_id)",  # a user deleted: their assignments are cleared
        "(form_version_id)",  # a version deleted: refused while submissions use it
        "(id)",
        "(organization_id, procedure_id, status)",  # counts, and the organization's foreign key
        "(procedure_id, status, submitted_at DESC, id DESC)",  # the inbox by status
        "(procedure_id, submitted_at DESC, id DESC)",  # the inbox, and the procedure's foreign key
        "(receipt_number)",  # unique
        "(token)",  # unique
    ]
