"""A clerk of 鳥取市 exports a procedure's submissions to look at them in Excel: the .xlsx and the CSV for Excel
(UTF-8 with BOM, Shift_JIS), each read back as Excel would read it."""

import csv
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.urls import reverse
from openpyxl import load_workbook

from madoguchi.audit.models import AuditLog
from madoguchi.lib.timeutil import JST
from madoguchi.procedures.models import FormVersion
from madoguchi.submissions import exports, staff_views
from madoguchi.submissions.models import Submission
from tests.conftest import ALL_TYPES_SCHEMA, SIGNUP_ANSWERS, make_procedure, make_submission
from tests.lib.test_exporting import excel_shows

pytestmark = pytest.mark.django_db

ANSWERS = {
    "title": "=SUM(A1)",
    "body": "- 1行目\n- 2行目",
    "count": "3",
    "email": "taro@example.jp",
    "phone": "0857-20-3111",
    "address": {"postal_code": "680-0001", "address": "鳥取市東町1-220"},
    "name": {"family": "髙橋", "given": "﨑子"},
    "kana": "タカハシ　サキコ",
    "birthday": "1950-04-01",
    "gender": "甲",
    "topics": ["子育て", "防災"],
    "area": "東部",
    "agree": True,
}


@pytest.fixture
def all_types(tottori):
    return make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目の手続")


def download(response) -> bytes:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content)
    return response.content


def xlsx_rows(client, procedure):
    response = client.get(reverse("staff:export_xlsx", kwargs={"procedure_id": procedure.pk}))
    assert response.status_code == 200
    data = download(response)
    sheet = load_workbook(io.BytesIO(data)).active
    return list(sheet.iter_rows()), data


def csv_rows(client, procedure, **params) -> list[list[str]]:
    response = client.get(reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk}), params)
    assert response.status_code == 200
    data = download(response)
    encoding = "cp932" if params.get("encoding") == "cp932" else "utf-8-sig"
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def by_header(rows) -> dict:
    header = [cell.value for cell in rows[0]]
    return dict(zip(header, rows[1], strict=False))


def test_the_xlsx_has_numbers_dates_and_text_as_typed(client, colleague, all_types):
    submission = make_submission(all_types, ANSWERS).submission
    client.force_login(colleague)
    rows, data = xlsx_rows(client, all_types)
    cells = by_header(rows)

    assert cells["人数"].data_type == "n" and cells["人数"].value == 3
    assert cells["生年月日"].is_date and cells["生年月日"].value == datetime(1950, 4, 1)
    arrived = submission.submitted_at.astimezone(JST).replace(tzinfo=None, microsecond=0)
    assert cells["到達日時"].is_date and cells["到達日時"].value == arrived
    assert cells["フォームの版"].value == 1
    for label, typed in [
        ("件名", "=SUM(A1)"),
        ("内容", "- 1行目\n- 2行目"),
        ("電話番号", "0857-20-3111"),
        ("住所（郵便番号）", "680-0001"),
        ("受付番号", submission.display_receipt_number),
    ]:
        assert cells[label].value == typed, label
        assert cells[label].data_type == "s", label
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "'=SUM" not in xml


def test_the_csv_for_excel_keeps_text_as_typed_and_numbers_and_dates_as_they_are(
    client, colleague, all_types
):
    typed = "100E10"
    submission = make_submission(all_types, {**ANSWERS, "title": typed}).submission
    client.force_login(colleague)
    header, row = csv_rows(client, all_types)
    cells = dict(zip(header, row, strict=True))

    assert cells["件名"] == '="100E10"' and excel_shows(cells["件名"]) == typed
    assert excel_shows(cells["内容"]) == "- 1行目\n- 2行目"
    assert excel_shows(cells["電話番号"]) == "0857-20-3111"
    assert cells["人数"] == "3"
    assert cells["生年月日"] == "1950-04-01"
    assert cells["到達日時"] == submission.submitted_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")
    assert cells["フォームの版"] == "1"


@pytest.mark.parametrize(
    "typed",
    [
        "(5)",
        "-5",
        "1 1/2",
        "50%",
        "¥1,000",
        "$5",
        "4月1日",
        "1/2",
        "12:30",
        "H31.4.1",
        "TRUE",
        "1-1",
        "＝1+1",
    ],
)
def test_what_a_resident_typed_in_a_text_field_stays_text_in_excel(client, colleague, all_types, typed):
    make_submission(all_types, {**ANSWERS, "title": typed})
    client.force_login(colleague)
    for encoding in ("utf-8", "cp932"):
        header, row = csv_rows(client, all_types, encoding=encoding)
        cell = row[header.index("件名")]
        assert cell.startswith('="'), (encoding, cell)
        expected = typed.replace("¥", "￥") if encoding == "cp932" else typed  # Shift_JIS's yen sign
        assert excel_shows(cell) == expected


def test_two_shift_jis_exports_in_a_row_each_report_their_own_replacements(client, colleague, procedure):
    make_submission(procedure, {**SIGNUP_ANSWERS, "name": {"family": "𠮷田", "given": "花子"}})
    client.force_login(colleague)
    url = reverse("staff:export_csv", kwargs={"procedure_id": procedure.pk})
    first = download(client.get(url, {"encoding": "cp932"})).decode("cp932")
    second = download(client.get(url, {"encoding": "cp932", "purpose": "systems"})).decode("cp932")
    utf8 = download(client.get(url))

    assert "〓田" in first and "〓田" in second and "𠮷田".encode() in utf8
    logs = list(AuditLog.objects.filter(action="submission.export").order_by("id"))
    assert [log.detail.get("replaced") for log in logs] == [1, 1, 0]
    page = client.get(reverse("staff:export", kwargs={"procedure_id": procedure.pk})).content.decode()
    entries = page.split('data-testid="export-entry"')[1:]
    assert len(entries) == 3
    newest, middle, oldest = entries
    assert "Excel用、UTF-8" in newest and "置き換えた文字" not in newest.split("</li>")[0]
    assert "他のシステムに取り込む用、Shift_JIS" in middle and "置き換えた文字 1文字：𠮷" in middle
    assert "Excel用、Shift_JIS" in oldest and "置き換えた文字 1文字：𠮷" in oldest and "1件" in oldest


def test_an_export_without_replacements_says_so(client, colleague, submission):
    client.force_login(colleague)
    download(
        client.get(
            reverse("staff:export_csv", kwargs={"procedure_id": submission.procedure_id}),
            {"encoding": "cp932"},
        )
    )
    page = client.get(
        reverse("staff:export", kwargs={"procedure_id": submission.procedure_id})
    ).content.decode()
    assert "Excel用、Shift_JIS、1件、置き換えた文字なし" in page


def test_control_characters_in_an_old_label_never_reach_the_header(client, colleague, procedure):
    make_submission(procedure)
    version = FormVersion.objects.get(procedure=procedure)
    schema = dict(version.schema)
    schema["fields"] = [
        {**field, "label": "電話\x1b番号\x85"} if field["key"] == "phone" else field
        for field in schema["fields"]
    ]
    FormVersion.objects.filter(pk=version.pk).update(schema=schema)  # stored before labels were checked
    client.force_login(colleague)

    for encoding in ("utf-8", "cp932"):
        assert "電話番号" in csv_rows(client, procedure, encoding=encoding)[0]
    rows, _ = xlsx_rows(client, procedure)
    assert "電話番号" in [cell.value for cell in rows[0]]


def test_only_the_selected_submissions_of_this_procedure_are_exported(
    client, colleague, procedure, yonago, tottori
):
    chosen = make_submission(procedure).submission
    make_submission(procedure)  # not chosen
    same_town = make_submission(make_procedure(tottori, title="別の手続")).submission
    other_town = make_submission(make_procedure(yonago, title="米子市の手続")).submission
    ids = [chosen.pk, same_town.pk, other_town.pk]

    _header, rows = exports.export_rows(procedure, submission_ids=ids)
    exported = [row[0] for row in rows]
    assert exported == [chosen.display_receipt_number]

    request = RequestFactory().get("/")
    request.user = colleague
    response = staff_views.csv_export_response(request, procedure, submission_ids=ids, encoding="cp932")
    lines = list(csv.reader(io.StringIO(download(response).decode("cp932"), newline="")))
    assert [excel_shows(line[0]) for line in lines[1:]] == [chosen.display_receipt_number]
    assert AuditLog.objects.get(action="submission.export").detail["selected"] == 3

    response = staff_views.xlsx_export_response(request, procedure, submission_ids=ids)
    sheet = load_workbook(io.BytesIO(download(response))).active
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [chosen.display_receipt_number]


def test_number_and_date_answers_become_typed_cells(all_types):
    spec = all_types.current_version.spec
    from madoguchi.submissions import intake

    assert intake.export_cells(spec.field("count"), "1234.50") == [Decimal("1234.50")]
    assert intake.export_cells(spec.field("birthday"), "1950-04-01") == [date(1950, 4, 1)]
    assert intake.export_cells(spec.field("birthday"), "昭和25年") == ["昭和25年"]  # data older than its type
    assert intake.export_cells(spec.field("count"), None) == [None]
    assert intake.export_cells(spec.field("name"), {"family": "髙橋", "given": ""}) == ["髙橋", None]


def test_an_outsider_gets_404_for_every_export(client, outsider, procedure):
    make_submission(procedure)
    client.force_login(outsider)
    for name, params in [
        ("staff:export", {}),
        ("staff:export_xlsx", {}),
        ("staff:export_csv", {}),
        ("staff:export_csv", {"encoding": "cp932"}),
    ]:
        response = client.get(reverse(name, kwargs={"procedure_id": procedure.pk}), params)
        assert response.status_code == 404, name
    assert not AuditLog.objects.filter(action="submission.export").exists()
    assert Submission.objects.count() == 1
