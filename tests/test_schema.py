"""The schema as migrations leave it on PostgreSQL, where every index costs each submission a write."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.database("postgresql")]


def test_submissions_carry_no_index_another_covers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisunique, c.conname IS NOT NULL "
            "FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('u', 'p') "
            "WHERE i.indrelid = 'submissions_submission'::regclass"
        )
        rows = cursor.fetchall()
    assert all(valid for _, valid, _, _ in rows)
    # Unique only through constraints: the primary key, 受付番号 and the token.
    assert sorted(
        d.split(" USING btree ")[1] for d, _, unique, constraint in rows if unique and constraint
    ) == [
        "(id)",
        "(receipt_number)",
        "(token)",
    ]
    # The inbox's search (submissions 0008_search): trigrams of the folded search column.
    assert sorted(d.split(" USING ")[1] for d, *_ in rows if " USING btree " not in d) == [
        "gin (search_text gin_trgm_ops)"
    ]
    indexes = sorted(d.split(" USING btree ")[1] for d, *_ in rows if " USING btree " in d)
    assert indexes == [
        "(assignee_id)",  # a user deleted: their assignments are cleared
        "(form_version_id)",  # a version deleted: refused while submissions use it
        "(id)",
        "(organization_id, procedure_id, status)",  # counts, and the organization's foreign key
        # 担当者 and 自分の担当 in the inbox: assigned rows only, so a new submission never writes it
        "(procedure_id, assignee_id, submitted_at DESC, id DESC) WHERE (assignee_id IS NOT NULL)",
        # 重複の防止: one submission per key and procedure, only rows that have a key (no write otherwise)
        "(procedure_id, duplicate_key) WHERE (NOT ((duplicate_key)::text = ''::text))",
        "(procedure_id, status, submitted_at DESC, id DESC)",  # the inbox by status
        "(procedure_id, submitted_at DESC, id DESC)",  # the inbox, and the procedure's foreign key
        "(receipt_number)",  # unique
        "(token)",  # unique
    ]
