"""Input that is never corrupted, each a whole class of fault, through the real intake path (submissions/intake)
and the resident's pages, on SQLite and PostgreSQL alike (issue #9, point 10):

- spaces and invisible characters at either end of any answer change nothing, and an answer made only of them
  is empty (a required field says 「…を入力してください」);
- control characters never reach storage: line breaks and tabs only in a 複数行 answer, bidirectional overrides
  nowhere, NUL from no field (nor a file name, the status look-up, the 補正 or the withdrawal reason);
- a マイナンバー in free text or a number is refused, the same digits with a wrong check digit are a number;
- ふりがな of a full name needs the space between family and given name;
- a phone number is shown in one form whatever was typed.
"""

import re
import unicodedata

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib import japanese as ja
from madoguchi.procedures.formspec import parse_form_spec
from madoguchi.submissions import intake, services
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Status, Submission
from tests.conftest import hidden_fields, make_procedure

pytestmark = pytest.mark.django_db

SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "title", "type": "short_text", "label": "件名", "required": True},
        {"key": "body", "type": "long_text", "label": "内容", "required": True},
        {"key": "count", "type": "number", "label": "人数", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
        {"key": "phone", "type": "phone", "label": "電話番号", "required": True},
        {"key": "address", "type": "address", "label": "住所", "required": True},
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "kana", "type": "furigana", "label": "フリガナ", "script": "katakana", "required": True,
         "full_name": True},
        {"key": "day", "type": "date", "label": "希望日", "required": True, "date_input": "text"},
        {"key": "members", "type": "group", "label": "世帯員", "item_label": "世帯員", "required": True,
         "fields": [
             {"key": "relation", "type": "short_text", "label": "続柄", "required": True},
             {"key": "note", "type": "long_text", "label": "備考"},
             {"key": "age", "type": "number", "label": "年齢"},
             {"key": "tel", "type": "phone", "label": "連絡先"},
         ]},
        {"key": "doc", "type": "file", "label": "書類", "allowed_types": ["png"], "max_size_mb": 1},
    ],
}  # fmt: skip
SPEC = parse_form_spec(SCHEMA)

# A good answer for every box, each of which must come out the same whatever invisible characters surround it.
GOOD = {
    "title": "ＡＢＣ１２３の件",
    "body": "一行目\n二行目",
    "count": "１２",
    "email": "taro@example.jp",
    "phone": "０８５７２２８１１１",
    "address__postal": "680-8570",
    "address__address": "鳥取市東町一丁目220",
    "name__family": "髙﨑",
    "name__given": "𠮷子",
    "kana": "ﾀｶｻｷ ﾖｼｺ",
    "day": "令和元年5月1日（水）",
    "members__count": "1",
    "members__0__relation": "長男",
    "members__0__note": "備考です",
    "members__0__age": "８",
    "members__0__tel": "090 1234 5678",
}
BOXES = [name for name in GOOD if name != "members__count"]
REQUIRED = ["title", "body", "count", "email", "phone", "address", "name", "kana", "day", "members"]

INVISIBLE = st.text(alphabet=ja.INVISIBLE_CHARACTERS, max_size=4)
CONTROLS = "".join(
    chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]
) + "".join(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


class QueryDictLike(dict):
    def getlist(self, key):
        value = self.get(key, [])
        return value if isinstance(value, list) else [value]


def parse(data: dict):
    return intake.parse(SPEC, QueryDictLike(data), {})


def form_url(procedure):
    return reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})


def confirm_url(procedure):
    return reverse(
        "public:confirm", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )


@pytest.fixture
def procedure(tottori):
    return make_procedure(tottori, SCHEMA, title="入力の確かめ", kind="application")


def test_the_good_answers_are_read():
    result = parse(GOOD)
    assert result.errors == {}
    assert result.values["phone"] == "0857-22-8111"
    assert result.values["name"] == {"family": "髙﨑", "given": "𠮷子"}
    assert result.values["kana"] == "タカサキ\u3000ヨシコ"
    assert result.values["members"][0]["tel"] == "090-1234-5678"


# --- spaces and invisible characters ---------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({name: st.tuples(INVISIBLE, INVISIBLE) for name in BOXES}))
def test_invisible_characters_around_any_answer_change_nothing(around):
    wrapped = {**GOOD, **{name: before + GOOD[name] + after for name, (before, after) in around.items()}}
    result = parse(wrapped)
    assert result.errors == {}
    assert result.values == parse(GOOD).values


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({name: INVISIBLE for name in BOXES}))
def test_an_answer_with_no_visible_character_is_empty(blank):
    result = parse({**blank, "members__count": "1"})
    assert result.values == {}
    for key in REQUIRED:
        assert "を入力してください" in result.errors[key], key


@pytest.mark.parametrize(
    "char", sorted(set(ja.SPACE_SEPARATORS) | set("\u200b\u200c\u200d\u2060\ufeff\u3164"))
)
def test_a_name_of_one_kind_of_blank_is_refused_as_empty(char):
    result = parse({**GOOD, "name__family": char * 3, "name__given": char})
    assert result.errors["name"] == "「氏名」を入力してください"


def test_a_name_keeps_every_inner_character():
    family = "葛\U000e0100城"  # an IVS sequence inside
    given = "\u3000𠮷\u00a0子\u200b"  # a no-break space inside stays; the blanks around go
    result = parse({**GOOD, "name__family": family, "name__given": given})
    assert result.values["name"] == {"family": family, "given": "𠮷\u00a0子"}


# --- control characters ----------------------------------------------------------------------------------

SINGLE_LINE = ["title", "members__0__relation", "name__family", "address__address"]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([*SINGLE_LINE, "body", "members__0__note"]),
    st.lists(st.sampled_from(CONTROLS + "\t\n\r\u2028\u2029"), min_size=1, max_size=4),
)
def test_control_characters_never_stay_and_line_breaks_only_where_text_spans_lines(box, controls):
    text = GOOD[box]
    middle = len(text) // 2
    typed = text[:middle] + "".join(controls) + text[middle:]
    result = parse({**GOOD, box: typed})
    assert not any(ja.has_control_characters(str(v)) for v in result.raw.values())
    key = box.split("__")[0] if not box.startswith("members") else "members"
    assert key not in result.errors, result.errors
    value = result.values[key]
    if box.startswith("members"):
        value = value[0][box.split("__")[2]]
    elif box.startswith("name"):
        value = value["family"]
    elif box.startswith("address"):
        value = value["address"]
    assert not ja.CONTROL_CHARACTERS.search(value)
    if box in ("body", "members__0__note"):
        assert "\t" not in value or "\t" in controls
    else:
        assert not re.search(r"[\t\n\r\u2028\u2029]", value)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    around=st.fixed_dictionaries({name: st.tuples(INVISIBLE, st.sampled_from(CONTROLS)) for name in BOXES})
)
def test_what_is_stored_is_what_the_confirmation_page_showed(client, procedure, around):
    """End to end, through the pages, into the database: every box with blanks before it and a control character
    after it (NUL too), and a file whose name holds control characters."""
    data = {**GOOD, **{name: before + GOOD[name] + control for name, (before, control) in around.items()}}
    upload = SimpleUploadedFile(
        "写\x00真\u202e.png",
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
            b"\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8\x00\x00\x00\x00IEND\xaeB`\x82"
        ),
        content_type="image/png",
    )
    response = client.post(
        form_url(procedure), {"version": procedure.current_version_id, **data, "doc": upload}
    )
    assert response.status_code == 302, response.content.decode()
    page = client.get(confirm_url(procedure)).content.decode()
    done = client.post(confirm_url(procedure), hidden_fields(page), follow=True)
    assert done.status_code == 200
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', done.content.decode()).group(1)
    submission = Submission.objects.get(receipt_number=receipt.replace("-", ""))
    answers = read_answers(submission)
    assert answers == {**parse(GOOD).values, "doc": answers["doc"]}
    for spec in SPEC.input_fields:
        if spec.type != "file":
            shown = intake.display_value(spec, answers[spec.key])
            assert all(escape(line) in page for line in shown.splitlines()), spec.key
    assert not ja.has_control_characters(answers["doc"]["name"]) and answers["doc"]["name"].endswith(".png")


def test_nul_reaches_no_table_from_the_status_look_up_the_correction_or_the_withdrawal(
    client, procedure, colleague
):
    response = client.post(form_url(procedure), {"version": procedure.current_version_id, **GOOD})
    page = client.get(confirm_url(procedure)).content.decode()
    done = client.post(confirm_url(procedure), hidden_fields(page), follow=True).content.decode()
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', done).group(1)
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', done).group(1)
    submission = Submission.objects.get(receipt_number=receipt.replace("-", ""))

    response = client.post(
        reverse("public:status"), {"receipt_number": receipt + "\x00", "inquiry_code": "\x00"}
    )
    assert response.status_code in (200, 400)
    client.post(reverse("public:status"), {"receipt_number": "\x00" + receipt, "inquiry_code": code + "\x00"})
    client.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": code})

    services.transition(submission=submission, to_status=Status.RETURNED, actor=colleague, reason="直して")
    bad = {**GOOD, **{name: "\x00" + GOOD[name] + "\x00\u202e" for name in BOXES}}
    response = client.post(reverse("public:status_correct"), bad)
    assert response.status_code == 302, response.content.decode()
    page = client.get(reverse("public:status_correct_confirm")).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    client.post(reverse("public:status_correct_confirm"), {"token": token}, follow=True)
    submission.refresh_from_db()
    assert read_answers(submission) == parse(GOOD).values

    response = client.post(
        reverse("public:status_withdraw"), {"reason": "都合\x00が悪く\u202eなりました"}, follow=True
    )
    assert response.status_code == 200
    assert "制御文字" in response.content.decode()
    submission.refresh_from_db()
    assert submission.status == Status.RECEIVED


# --- マイナンバー ------------------------------------------------------------------------------------------

ELEVEN = st.text(alphabet="0123456789", min_size=11, max_size=11)
SEPARATORS = st.sampled_from(["", " ", "-", "\u3000", "－", "ー", " - ", "\u00a0"])


def spelled(digits: str, separator: str, full_width: bool) -> str:
    text = separator.join((digits[:4], digits[4:8], digits[8:]))
    return ja.to_halfwidth_ascii(text) if not full_width else text.translate(_FULL)


_FULL = {ord(d): chr(ord(d) + 0xFEE0) for d in "0123456789"}
MY_NUMBER_MESSAGE = "マイナンバー（個人番号）は送らないでください。"


@settings(max_examples=120, deadline=None)
@given(
    ELEVEN,
    SEPARATORS,
    st.booleans(),
    st.sampled_from(
        [
            "title",
            "body",
            "count",
            "members__0__note",
            "members__0__relation",
            "address__address",
            "name__given",
        ]
    ),
)
def test_a_valid_individual_number_is_refused_in_any_spelling(first, separator, full_width, box):
    number = first + str(ja.individual_number_check_digit(first))
    typed = spelled(number, separator, full_width)
    if box in ("title", "body", "members__0__note", "members__0__relation"):
        typed = f"番号は{typed}です"
    if box == "address__address":
        typed = f"鳥取市東町{typed}"
    result = parse({**GOOD, box: typed})
    key = "members" if box.startswith("members") else box.split("__")[0]
    assert MY_NUMBER_MESSAGE in result.errors[key]
    assert key not in result.values


@settings(max_examples=120, deadline=None)
@given(
    ELEVEN,
    st.integers(1, 9),
    SEPARATORS,
    st.booleans(),
    st.sampled_from(["title", "body", "members__0__age"]),
)
def test_the_same_digits_with_a_wrong_check_digit_are_a_plain_number(
    first, shift, separator, full_width, box
):
    wrong = first + str((ja.individual_number_check_digit(first) + shift) % 10)
    typed = spelled(wrong, separator if box != "members__0__age" else "", full_width)
    result = parse({**GOOD, box: typed})
    assert result.errors == {}
    if box == "members__0__age":
        assert result.values["members"][0]["age"] == str(int(wrong))
    else:
        assert "".join(c for c in unicodedata.normalize("NFKC", result.values[box]) if c.isdigit()) == wrong


def test_a_correction_cannot_send_an_individual_number_either(client, procedure, colleague):
    client.post(form_url(procedure), {"version": procedure.current_version_id, **GOOD})
    page = client.get(confirm_url(procedure)).content.decode()
    done = client.post(confirm_url(procedure), hidden_fields(page), follow=True).content.decode()
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', done).group(1)
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', done).group(1)
    submission = Submission.objects.get(receipt_number=receipt.replace("-", ""))
    services.transition(submission=submission, to_status=Status.RETURNED, actor=colleague, reason="直して")
    client.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": code})
    response = client.post(
        reverse("public:status_correct"), {**GOOD, "body": "番号 1234 5678 9018"}, follow=True
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert MY_NUMBER_MESSAGE in page and "番号 1234 5678 9018" in page  # refused, and nothing typed is lost


# --- ふりがな of a full name, phone numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["ﾀｶｻｷ ﾖｼｺ", "タカサキ　ヨシコ", "たかさき  よしこ", "\u3000タカサキ\u00a0ヨシコ\u200b"]
)
def test_the_reading_of_a_full_name_is_stored_with_one_full_width_space(typed):
    assert parse({**GOOD, "kana": typed}).values["kana"] == "タカサキ\u3000ヨシコ"


def test_the_reading_of_a_full_name_without_the_space_is_refused():
    result = parse({**GOOD, "kana": "タカサキヨシコ"})
    assert result.errors["kana"] == "姓と名の間に空白を入れてください。"


PHONE_SPELLINGS = [
    "０８５７２２８１１１",
    "0857(22)8111",
    "(0857)22-8111",
    "+81 857-22-8111",
    "+81(0)857-22-8111",
    "0857ー22ー8111",
    "0857 22 8111",
    "08572-2-8111",  # grouped wrongly by hand: still shown the one way
]


@pytest.mark.parametrize("typed", PHONE_SPELLINGS)
def test_a_phone_number_is_shown_in_one_form_everywhere(client, procedure, colleague, typed):
    client.post(form_url(procedure), {"version": procedure.current_version_id, **GOOD, "phone": typed})
    page = client.get(confirm_url(procedure)).content.decode()
    assert "0857-22-8111" in page
    done = client.post(confirm_url(procedure), hidden_fields(page), follow=True).content.decode()
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', done).group(1)
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', done).group(1)
    submission = Submission.objects.get(receipt_number=receipt.replace("-", ""))
    assert read_answers(submission)["phone"] == "0857-22-8111"
    client.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": code})
    assert "0857-22-8111" in client.get(reverse("public:status_view")).content.decode()
    client.force_login(colleague)
    staff_page = client.get(
        reverse("staff:submission", kwargs={"submission_id": submission.pk})
    ).content.decode()
    assert "0857-22-8111" in staff_page
    # Staff find the case by the number spelt the way the resident typed it.
    inbox = reverse("staff:inbox", kwargs={"procedure_id": procedure.pk})
    found = client.get(client.post(inbox, {"q": typed})["Location"]).content.decode()
    assert receipt in found
    phone_spec = next(f for f in SPEC.input_fields if f.key == "phone")
    assert intake.export_cells(phone_spec, read_answers(submission)["phone"]) == ["0857-22-8111"]


def test_a_number_stored_before_in_another_grouping_is_shown_in_the_one_form():
    phone_spec = next(f for f in SPEC.input_fields if f.key == "phone")
    assert intake.display_value(phone_spec, "08572-28-111") == "0857-22-8111"
    assert intake.export_cells(phone_spec, "0312345678") == ["03-1234-5678"]
