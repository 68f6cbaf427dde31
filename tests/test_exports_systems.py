"""A clerk of 鳥取市 exports submissions for another system to import (他のシステムに取り込む用): plain values,
UTF-8 without BOM or Shift_JIS, no Excel wrappers; the export page says what the file holds."""

import codecs
import csv
import io

import pytest
from django.urls import reverse

from madoguchi.audit.models import AuditLog
from madoguchi.lib.timeutil import JST
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure, make_submission
from tests.test_exports_excel import ANSWERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def all_types(tottori):
    return make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目の手続")


def export(client, procedure, **params) -> bytes:
    url = reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})
    response = client.get(url, {"purpose": "systems", **params})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def rows(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_the_csv_for_other_systems_holds_plain_values(client, colleague, all_types, encoding):
    submission = make_submission(all_types, {**ANSWERS, "title": "0012", "body": "=1+1\n2行目"}).submission
    client.force_login(colleague)
    data = export(client, all_types, encoding=encoding)

    assert not data.startswith(codecs.BOM_UTF8)
    header, row = rows(data, encoding)
    cells = dict(zip(header, row, strict=True))
    assert header[:4] == ["受付番号", "到達日時", "状態", "フォームの版"]
    assert cells["受付番号"] == submission.display_receipt_number
    assert cells["到達日時"] == submission.submitted_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")
    assert cells["件名"] == "0012"
    assert cells["内容"] == "=1+1\n2行目"
    assert cells["電話番号"] == "0857-20-3111"
    assert cells["人数"] == "3"
    assert cells["生年月日"] == "1950-04-01"
    assert cells["氏名（姓）"] == "髙橋"
    assert b'="' not in data and b"'=" not in data
    log = AuditLog.objects.get(action="submission.export")
    assert log.detail["purpose"] == "systems" and log.detail["encoding"] == encoding
    assert log.detail["rows"] == 1


def test_the_export_page_explains_the_csv_for_other_systems(client, colleague, procedure):
    client.force_login(colleague)
    page = client.get(reverse("staff:export", kwargs={"procedure_id": procedure.pk})).content.decode()

    assert "他のシステムに取り込む用" in page
    assert "CSV（UTF-8・BOMなし）" in page
    assert "?purpose=systems&amp;encoding=cp932" in page
    assert "2026-04-01 09:30:00" in page  # the shape of the 到達日時 is written down


def test_an_outsider_gets_404_for_the_csv_for_other_systems(client, outsider, procedure):
    make_submission(procedure)
    client.force_login(outsider)
    url = reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})
    for params in ({"purpose": "systems"}, {"purpose": "systems", "encoding": "cp932"}):
        assert client.get(url, params).status_code == 404
    assert not AuditLog.objects.filter(action="submission.export").exists()


def test_a_viewer_cannot_export_for_other_systems(client, viewer, procedure):
    client.force_login(viewer)
    url = reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})
    assert client.get(url, {"purpose": "systems"}).status_code == 403


def test_an_unknown_purpose_or_encoding_gives_the_csv_for_excel(client, colleague, procedure):
    make_submission(procedure)
    client.force_login(colleague)
    url = reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})
    data = b"".join(client.get(url, {"purpose": "x" * 5000, "encoding": "\x00"}).streaming_content)

    assert data.startswith(codecs.BOM_UTF8)
    assert AuditLog.objects.get(action="submission.export").detail["purpose"] == "excel"
