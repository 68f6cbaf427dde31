"""Field widgets of the resident's form: dates as 年・月・日 boxes with an era, autocomplete tokens, and a
name's reading in ふりがな or Latin letters (氏名（ローマ字）). No JavaScript: plain posts."""

import re
import unicodedata
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib import japanese as ja
from madoguchi.procedures.forms import FieldForm
from madoguchi.procedures.formspec import FormSpec
from madoguchi.submissions import intake
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Submission
from tests.conftest import make_procedure
from tests.test_resident_flow import confirm_url, confirmed_form, form_url, post_form

pytestmark = pytest.mark.django_db

SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True, "reading": "either"},
        {"key": "birthday", "type": "date", "label": "生年月日", "required": True, "past_only": True},
        {"key": "moved", "type": "date", "label": "転入した日"},
        {"key": "address", "type": "address", "label": "住所"},
        {"key": "phone", "type": "phone", "label": "電話番号"},
        {"key": "email", "type": "email", "label": "メールアドレス"},
    ]
}
POST = {
    "name__family": "鳥取",
    "name__given": "花子",
    "name__reading_family": "とっとり",
    "name__reading_given": "はなこ",
    "birthday__era": "昭和",
    "birthday__year": "55",
    "birthday__month": "4",
    "birthday__day": "1",
    "moved": "令和8年4月1日",
}


@pytest.fixture
def widgets(tottori):
    return make_procedure(tottori, SCHEMA, title="転入の届出", kind="application")


def page_after(client, procedure, data):
    response = post_form(client, procedure, data, follow=True)
    return response, response.content.decode()


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<(?:input|select)[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert found, f"no input named {name}"
    return found[0]


# Dates --------------------------------------------------------------------------------------------------


def test_a_birth_date_is_asked_in_boxes_with_an_era_and_other_dates_in_one_box(client, widgets):
    page = client.get(form_url(widgets)).content.decode()
    era = input_tag(page, "birthday__era")
    assert era.startswith("<select")
    for era_name in ("西暦", "令和", "平成", "昭和", "大正"):
        assert f'<option value="{era_name}"' in page
    for part, token in (("year", "bday-year"), ("month", "bday-month"), ("day", "bday-day")):
        tag = input_tag(page, f"birthday__{part}")
        assert 'inputmode="numeric"' in tag and f'autocomplete="{token}"' in tag
    assert 'name="moved"' in page and 'name="moved__year"' not in page
    assert "<legend" in page and '<label for="birthday__month"' in page


def test_a_date_in_boxes_is_one_date_shown_in_both_calendars(client, widgets):
    response = post_form(client, widgets, POST)
    assert response.status_code == 302, response.content.decode()
    page = client.get(confirm_url(widgets)).content.decode()
    assert "1980年4月1日（昭和55年4月1日）" in page
    assert "2026年4月1日（令和8年4月1日）" in page
    client.post(confirm_url(widgets), confirmed_form(client, widgets))
    answers = read_answers(Submission.objects.get())
    assert answers["birthday"] == "1980-04-01" and answers["moved"] == "2026-04-01"


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("昭和", "55", "13", "1"), "月は1から12までの数字で入力してください"),
        (("昭和", "55", "2", "30"), "昭和55年2月には30日はありません"),
        (("昭和", "55", "4", ""), "日を入力してください"),
        (("西暦", "", "4", "1"), "年を入力してください"),
        (("西暦", "55", "4", "1"), "西暦の年は4桁で入力してください"),
        (("令和", "元", "4", "30"), "令和"),  # before the era began: parse_date's own message
        (("令和", "五", "4", "1"), "年は数字で入力してください"),
    ],
)
def test_a_wrong_box_is_named_and_every_box_keeps_what_was_typed(client, widgets, parts, message):
    era, year, month, day = parts
    data = {
        **POST,
        "birthday__era": era,
        "birthday__year": year,
        "birthday__month": month,
        "birthday__day": day,
    }
    response, page = page_after(client, widgets, data)
    assert response.status_code == 400
    error = re.search(r'<p class="error-text" id="birthday-error">(.*?)</p>', page)
    assert error and message in error[1]
    assert f'<option value="{era}" selected>' in page
    assert f'value="{year}"' in input_tag(page, "birthday__year")
    assert f'value="{month}"' in input_tag(page, "birthday__month")
    assert f'value="{day}"' in input_tag(page, "birthday__day")
    assert 'aria-invalid="true"' in input_tag(page, "birthday__day")
    assert 'href="#birthday"' in page  # the error summary leads to the year box
    assert 'value="令和8年4月1日"' in input_tag(page, "moved")


def test_a_whole_date_typed_into_the_year_box_is_read(client, widgets):
    data = {**POST, "birthday__year": "昭和５５年４月１日", "birthday__month": "", "birthday__day": ""}
    assert post_form(client, widgets, data).status_code == 302
    assert "1980年4月1日（昭和55年4月1日）" in client.get(confirm_url(widgets)).content.decode()


def test_a_form_that_sends_one_box_for_a_birth_date_is_still_read(client, widgets):
    data = {k: v for k, v in POST.items() if not k.startswith("birthday")} | {"birthday": "1980/4/1"}
    assert post_form(client, widgets, data).status_code == 302


def test_a_missing_required_birth_date_asks_for_it(client, widgets):
    data = {**POST, "birthday__year": "", "birthday__month": "", "birthday__day": ""}
    page = page_after(client, widgets, data)[1]
    assert "「生年月日」を入力してください" in page


SPEC = FormSpec.model_validate(SCHEMA)
BIRTHDAY = SPEC.field("birthday")


def parts_of(day: date, era_name: str | None) -> dict:
    if era_name is None:
        return {"era": "西暦", "year": str(day.year), "month": str(day.month), "day": str(day.day)}
    era = next(e for e in ja.ERAS if e.name == era_name)
    n = day.year - era.start.year + 1
    return {"era": era_name, "year": "元" if n == 1 else str(n), "month": str(day.month), "day": str(day.day)}


def read_birthday(parts: dict, *, full_width: bool = False) -> intake.Intake:
    data = {f"birthday__{k}": v for k, v in parts.items()}
    if full_width:
        data = {k: unicodedata.normalize("NFKC", v).translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})
                for k, v in data.items()}  # fmt: skip
    form = FormSpec.model_validate({"fields": [SCHEMA["fields"][1]]})
    return intake.parse(form, data, None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.dates(min_value=date(1912, 7, 30), max_value=date(2025, 12, 31)), full_width=st.booleans())
def test_any_date_in_its_era_or_in_the_western_calendar_reads_back_to_itself(day, full_width):
    era = next(e for e in ja.ERAS if e.start <= day)
    for era_name in (era.name, None):
        result = read_birthday(parts_of(day, era_name), full_width=full_width)
        assert result.errors == {} and result.values["birthday"] == day.isoformat()


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(1912, 7, 30), max_value=date(2025, 12, 31)))
def test_a_stored_date_fills_the_boxes_so_that_a_correction_reads_it_back(day):
    raw = intake.raw_from_values(SPEC, {"birthday": day.isoformat()})
    again = intake.parse(SPEC, intake.as_post(raw), None, page_keys={"birthday"})
    assert again.errors == {} and again.values["birthday"] == day.isoformat()
    assert raw["birthday"][0] != "西暦"  # shown in its era, as a birth year is remembered


@settings(max_examples=200, deadline=None)
@given(
    parts=st.tuples(
        st.sampled_from(["西暦", "令和", "平成", "昭和", "大正", "明治?"]), *[st.text(max_size=12)] * 3
    )
)
def test_nothing_sent_in_the_boxes_raises_anything_but_a_message_and_it_is_kept(parts):
    data = dict(
        zip(("birthday__era", "birthday__year", "birthday__month", "birthday__day"), parts, strict=True)
    )
    form = FormSpec.model_validate({"fields": [SCHEMA["fields"][1]]})
    result = intake.parse(form, data, None)
    kept = [ja.remove_control_characters(p) for p in parts]
    assert result.raw["birthday"] == kept
    assert ("birthday" in result.errors) != ("birthday" in result.values)


# autocomplete tokens ---------------------------------------------------------------------------------------


def test_inputs_carry_their_autocomplete_tokens(client, widgets):
    page = client.get(form_url(widgets)).content.decode()
    assert 'autocomplete="family-name"' in input_tag(page, "name__family")
    assert 'autocomplete="given-name"' in input_tag(page, "name__given")
    assert 'autocomplete="postal-code"' in input_tag(page, "address__postal")
    assert 'autocomplete="street-address"' in input_tag(page, "address__address")
    assert 'autocomplete="tel"' in input_tag(page, "phone")
    assert 'autocomplete="email"' in input_tag(page, "email")
    assert 'autocomplete="off"' in input_tag(page, "name__reading_family")  # no token for a reading


# 氏名（ローマ字） ----------------------------------------------------------------------------------------


def name_form(reading: str, script: str = "hiragana") -> FormSpec:
    return FormSpec.model_validate(
        {"fields": [{"key": "name", "type": "name", "label": "氏名", "required": True, "reading": reading,
                     "script": script}]}
    )  # fmt: skip


def read_name(reading: str, family: str, given: str, *, script: str = "hiragana") -> intake.Intake:
    data = {"name__family": "山田", "name__given": "太郎", "name__reading_family": family,
            "name__reading_given": given}  # fmt: skip
    return intake.parse(name_form(reading, script), data, None)


def test_a_name_in_latin_letters_is_taken_where_the_form_allows_it(client, widgets):
    data = {**POST, "name__family": "Nguyễn", "name__given": "Thị Lan",
            "name__reading_family": "Nguye\u0302\u0303n", "name__reading_given": "Thi\u0323 Lan"}  # fmt: skip
    assert post_form(client, widgets, data).status_code == 302
    page = client.get(confirm_url(widgets)).content.decode()
    assert "Nguyễn\u3000Thị Lan（Nguyễn Thị Lan）" in page
    client.post(confirm_url(widgets), confirmed_form(client, widgets))
    name = read_answers(Submission.objects.get())["name"]
    assert name["reading_family"] == "Nguyễn" and name["reading_script"] == "latin"  # NFC


def test_kana_in_either_is_a_furigana_in_the_form_s_script():
    result = read_name("either", "ﾄｯﾄﾘ", "ハナコ")
    assert result.values["name"]["reading_family"] == "とっとり"
    assert result.values["name"]["reading_script"] == "kana"


@pytest.mark.parametrize(
    ("reading", "family", "given", "message"),
    [
        ("latin", "とっとり", "はなこ", "氏名（ローマ字）は、ローマ字"),
        ("kana", "Smith", "John", "ふりがなはひらがなで入力してください"),
        ("either", "Smith", "はなこ", "ふりがなはひらがなで入力してください"),
        ("either", "", "", "氏名のふりがなを入力してください"),
        ("latin", "", "", "氏名（ローマ字）を入力してください"),
        ("latin", "O'Brien3", "Seán", "氏名（ローマ字）は、ローマ字"),
    ],
)
def test_a_wrong_reading_is_refused_with_a_message(reading, family, given, message):
    result = read_name(reading, family, given)
    assert message in result.errors["name"]
    assert result.raw["name"] == [family, given]


LATIN = st.sampled_from(list("ABCXYZabcxyzÀÉÎÕÜàéîõüçñøåßŁłŠšŽžőűăşţ"))


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.text(LATIN, min_size=1, max_size=8), min_size=1, max_size=3),
    joiner=st.sampled_from([" ", "-", "'", ". "]),
    given_name=st.text(LATIN, min_size=1, max_size=10),
)
def test_any_latin_name_is_taken_as_typed_in_nfc(words, joiner, given_name):
    family = joiner.join(words)
    decomposed = unicodedata.normalize("NFD", family)
    for reading in ("latin", "either"):
        result = read_name(reading, decomposed, given_name)
        assert result.errors == {}, result.errors
        stored = result.values["name"]
        assert stored["reading_family"] == unicodedata.normalize("NFC", " ".join(family.split()))
        assert stored["reading_given"] == given_name and stored["reading_script"] == "latin"


def test_the_reading_is_kept_for_a_correction(widgets):
    spec = name_form("latin")
    raw = intake.raw_from_values(spec, {"name": {"family": "Smith", "given": "John", "reading_family": "Smith",
                                                 "reading_given": "John", "reading_script": "latin"}})  # fmt: skip
    again = intake.parse(spec, intake.as_post(raw), None)
    assert again.values["name"]["reading_family"] == "Smith"


def test_the_english_page_labels_the_latin_reading(client, tottori):
    procedure = make_procedure(tottori, {"fields": [name_form("latin").fields[0].model_dump()]}, title="英語")
    client.cookies["django_language"] = "en"
    page = client.get(form_url(procedure)).content.decode()
    assert 'name="name__reading_family"' in page and 'lang="en"' in input_tag(page, "name__reading_family")


# The builder offers both options -----------------------------------------------------------------------


def test_the_builder_s_field_form_offers_the_reading_and_the_date_boxes():
    name = FieldForm(
        data={"key": "name", "label": "氏名", "reading": "either", "script": "hiragana"}, field_type="name"
    )
    assert name.field_definition("name")["reading"] == "either"
    birthday = FieldForm(
        data={"key": "birthday", "label": "生年月日", "date_input": "split"}, field_type="date"
    )
    assert birthday.field_definition("birthday")["date_input"] == "split"
    plain = FieldForm(data={"key": "day", "label": "日付", "date_input": "auto"}, field_type="date")
    assert "date_input" not in plain.field_definition("day")


def test_the_reading_has_its_own_columns_in_the_export():
    spec = name_form("either").fields[0]
    value = {"family": "Nguyễn", "given": "Lan", "reading_family": "Nguyễn", "reading_given": "Lan",
             "reading_script": "latin"}  # fmt: skip
    assert intake.export_columns(spec) == ["氏名（姓）", "氏名（名）", "氏名（読み・姓）", "氏名（読み・名）"]
    assert intake.export_cells(spec, value) == ["Nguyễn", "Lan", "Nguyễn", "Lan"]


def test_a_group_item_moving_up_takes_its_reading_and_its_date_with_it():
    from madoguchi.submissions.resident_views import change_group_items

    group = {"key": "members", "type": "group", "label": "世帯員", "min_items": 0, "fields": [
        {"key": "who", "type": "name", "label": "氏名", "reading": "latin"},
        {"key": "born", "type": "date", "label": "生年月日", "past_only": True},
    ]}  # fmt: skip
    spec = FormSpec.model_validate({"fields": [group]})
    data = {"members__count": "2", "members__1__who__family": "Smith", "members__1__who__given": "John",
            "members__1__who__reading_family": "Smith", "members__1__who__reading_given": "John",
            "members__1__born__era": "昭和", "members__1__born__year": "55", "members__1__born__month": "4",
            "members__1__born__day": "1"}  # fmt: skip
    raw = intake.read_raw(spec, data)
    page = type("Page", (), {"fields": ["members"]})()
    assert change_group_items(spec, page, raw, {"group_remove": "members:0"}) == "members"
    result = intake.parse(spec, intake.as_post(raw), None)
    assert result.values["members"] == [
        {"who": {"family": "Smith", "given": "John", "reading_family": "Smith", "reading_given": "John",
                 "reading_script": "latin"}, "born": "1980-04-01"}
    ]  # fmt: skip


@pytest.mark.parametrize("date_input", ["auto", "split", "text"])
def test_a_past_date_that_is_not_a_birth_date_is_never_offered_the_residents_birthday(
    client, tottori, date_input
):
    """autocomplete="bday" lets the browser fill in the resident's own birthday: only for a date of birth,
    never for a 変更日 or a 死亡日 that must also lie in the past."""
    procedure = make_procedure(
        tottori,
        {
            "fields": [
                {"key": "changed_on", "type": "date", "label": "変更日", "required": True, "past_only": True,
                 "date_input": date_input},
                {"key": "born", "type": "date", "label": "お子さんの生年月日", "past_only": True},
            ]
        },
        title="登録事項変更届",
    )  # fmt: skip
    page = client.get(form_url(procedure)).content.decode()
    changed = [
        input_tag(page, name)
        for name in ("changed_on", "changed_on__year", "changed_on__month")
        if f'name="{name}"' in page
    ]
    assert changed and not any("bday" in tag for tag in changed)
    assert 'autocomplete="bday' in page  # the date of birth still is
