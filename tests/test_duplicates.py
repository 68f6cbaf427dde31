"""重複申請: one submission per verified e-mail address or per value of a chosen field (Procedure.duplicate_rule).

The resident who tries again is told the earlier 受付番号, with nothing typed lost; a withdrawn or rejected case
no longer counts; the database's unique constraint decides between concurrent submits.
"""

import threading
import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib.receipt import format_receipt_number
from madoguchi.procedures.forms import ProcedureSettingsForm
from madoguchi.procedures.models import Procedure
from madoguchi.submissions import duplicates, services
from madoguchi.submissions.models import Status, Submission
from tests.conftest import (
    SIGNUP_ANSWERS,
    SIGNUP_POST,
    client_counted,
    hidden_fields,
    make_procedure,
    make_submission,
    run_at_once,
)

MEMBER_SCHEMA = {
    "email_field": "email",
    "fields": [
        {"key": "member", "type": "short_text", "label": "会員番号", "required": True},
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "email", "type": "email", "label": "メールアドレス"},
        {"key": "photo", "type": "file", "label": "写真"},
    ],
}  # fmt: skip


def member_answers(member: str, email: str = "sakiko@example.jp") -> dict:
    return {"member": member, "name": {"family": "髙橋", "given": "﨑子"}, "email": email}


@pytest.fixture
def by_member(tottori):
    return make_procedure(
        tottori, MEMBER_SCHEMA, title="給付金の申請", kind="application", duplicate_rule="field",
        duplicate_field="member",
    )  # fmt: skip


@pytest.fixture
def by_email(tottori):
    return make_procedure(tottori, title="講座の申込", duplicate_rule="email")


def key_of(field_type: str, value) -> str:
    return duplicates.key_for(
        procedure_id=1, rule="field", value=duplicates.normalized_value(field_type, value)
    )


# Normalization, over the classes of input ---------------------------------------------------------------

FULLWIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}
SPACES = st.sampled_from([" ", "\u3000", "\u00a0", "\u2002", "\u200b", "\ufeff", "\u2060", "\t"])


def spaced(draw, text: str) -> str:
    """`text` with spaces and invisible characters put anywhere."""
    chars = list(text)
    for _ in range(draw(st.integers(0, 3))):
        chars.insert(draw(st.integers(0, len(chars))), draw(SPACES))
    return "".join(chars)


@st.composite
def email_variants(draw):
    local = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=12))
    domain = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)) + ".jp"
    address = f"{local}@{domain}"
    variant = "".join(
        (c.upper() if draw(st.booleans()) else c).translate(FULLWIDTH if draw(st.booleans()) else {})
        for c in address
    )
    return address, draw(SPACES.filter(str.isspace)) + variant + " "


@settings(max_examples=200, deadline=None)
@given(email_variants(), email_variants())
def test_an_address_in_any_case_or_width_is_the_same_key_and_another_address_is_not(one, other):
    address, variant = one
    assert key_of("email", variant) == key_of("email", address) != ""
    if other[0].lower() != address.lower():
        assert key_of("email", other[1]) != key_of("email", address)


@st.composite
def phone_variants(draw):
    digits = "0" + draw(st.text("0123456789", min_size=9, max_size=10))
    parts, rest = [], digits
    while rest:
        size = draw(st.integers(1, 4))
        parts.append(rest[:size])
        rest = rest[size:]
    text = draw(st.sampled_from(["-", "－", " ", "", "‐"])).join(parts)
    return digits, text.translate(FULLWIDTH) if draw(st.booleans()) else text


@settings(max_examples=200, deadline=None)
@given(phone_variants(), phone_variants())
def test_a_phone_number_with_any_hyphens_spaces_or_width_is_the_same_key(one, other):
    digits, variant = one
    assert key_of("phone", variant) == key_of("phone", digits)
    assert (key_of("phone", other[1]) == key_of("phone", variant)) == (other[0] == digits)


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from(["plain", "zeros", "commas", "fullwidth"]),
)
def test_a_number_written_any_way_is_the_same_key_and_another_number_is_not(number, other, form):
    text = format(number, "f")
    if form == "zeros":
        text = format(number.quantize(Decimal("0.00000")), "f")
    elif form == "commas":
        text = f"{number:,f}"
    elif form == "fullwidth":
        text = text.translate(FULLWIDTH)
    assert key_of("number", text) == key_of("number", str(number))
    assert (key_of("number", str(other)) == key_of("number", text)) == (other == number)


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)), st.dates(min_value=date(1990, 1, 1))
)
def test_a_date_in_any_accepted_form_is_the_same_key(day, other):
    from madoguchi.lib.japanese import format_wareki

    for text in (day.isoformat(), f"{day.year}/{day.month}/{day.day}", format_wareki(day)):
        assert key_of("date", text) == key_of("date", day.isoformat())
    assert (key_of("date", other.isoformat()) == key_of("date", day.isoformat())) == (other == day)


WORD = st.text(st.sampled_from(list("abcXYZ019あいうカキク漢字髙﨑ー")), min_size=1, max_size=12)


@st.composite
def text_variants(draw):
    word = draw(WORD)
    variant = word.translate(FULLWIDTH) if draw(st.booleans()) else word
    variant = variant.upper() if draw(st.booleans()) else variant
    return word, spaced(draw, variant)


def folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_variants(), text_variants())
def test_a_text_in_either_width_case_or_spacing_is_the_same_key_and_another_text_is_not(one, other):
    word, variant = one
    assert key_of("short_text", variant) == key_of("short_text", word) != ""
    # A rare kanji stays itself: 﨑 is not 崎, 髙 is not 高.
    assert (key_of("short_text", other[1]) == key_of("short_text", word)) == (
        folded(other[0]) == folded(word)
    )


@settings(max_examples=100, deadline=None)
@given(st.text(st.sampled_from(list("あいうえおかきくけこがぱゃー")), min_size=1, max_size=10))
def test_a_reading_in_hiragana_or_katakana_is_the_same_key(reading):
    katakana = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in reading)
    assert key_of("furigana", katakana) == key_of("furigana", reading)
    assert key_of("furigana", reading + "あ") != key_of("furigana", reading)


def test_the_key_is_per_procedure_and_blank_for_no_value():
    value = duplicates.normalized_value("short_text", "A-123")
    assert duplicates.key_for(procedure_id=1, rule="field", value=value) != duplicates.key_for(
        procedure_id=2, rule="field", value=value
    )
    assert key_of("short_text", "") == key_of("short_text", "\u3000\u200b") == key_of("name", None) == ""
    assert key_of("short_text", "A-123") == key_of("short_text", "a１２３")
    assert key_of("short_text", "さーや") != key_of("short_text", "さや")  # ー is part of the word


# The submit service ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_submission_with_the_same_key_is_refused_naming_the_first(by_member):
    first = make_submission(by_member, member_answers("A-1234"), token="one").submission
    assert first.duplicate_key == key_of_procedure(by_member, "A-1234")
    with pytest.raises(services.DuplicateSubmission) as refused:
        make_submission(by_member, member_answers("ａ１２３４", "other@example.jp"), token="two")
    assert f"受付番号 {format_receipt_number(first.receipt_number)}" in str(refused.value)
    assert "すでに申請を受け付けています" in str(refused.value)
    assert refused.value.field_key == "member"
    assert Submission.objects.count() == 1
    # Another value is another application; the same application sent again is answered by its token.
    assert make_submission(by_member, member_answers("A-1235"), token="three").created
    again = make_submission(by_member, member_answers("A-1234"), token="one")
    assert not again.created and again.submission.pk == first.pk


def key_of_procedure(procedure, member: str) -> str:
    return duplicates.key_for(
        procedure_id=procedure.pk, rule="field", value=duplicates.normalized_value("short_text", member)
    )


@st.composite
def member_numbers(draw):
    """A member number, and the same number as another resident might type it."""
    number = draw(st.text("ABCXYZ0123456789", min_size=1, max_size=10))
    variant = number.translate(FULLWIDTH) if draw(st.booleans()) else number
    variant = variant.lower() if draw(st.booleans()) else variant
    return number, spaced(draw, draw(st.sampled_from(["", " ", "\u3000"])) + variant)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(one=member_numbers(), other=member_numbers())
def test_the_database_refuses_an_equivalent_number_and_takes_a_different_one(tottori, one, other):
    procedure = make_procedure(
        tottori, MEMBER_SCHEMA, kind="application", duplicate_rule="field", duplicate_field="member"
    )
    number, variant = one
    first = make_submission(procedure, member_answers(number), token=f"{procedure.pk}-a").submission
    with pytest.raises(services.DuplicateSubmission) as refused:
        make_submission(procedure, member_answers(variant), token=f"{procedure.pk}-b")
    assert refused.value.receipt_number == first.receipt_number
    if other[0].casefold() != number.casefold():
        assert make_submission(procedure, member_answers(other[1]), token=f"{procedure.pk}-c").created
    assert Submission.objects.filter(procedure=procedure).count() == (
        2 if other[0].casefold() != number.casefold() else 1
    )


@pytest.mark.django_db
def test_one_per_address_ignores_case_and_width(by_email):
    make_submission(by_email, dict(SIGNUP_ANSWERS), token="one")
    with pytest.raises(services.DuplicateSubmission):
        make_submission(by_email, {**SIGNUP_ANSWERS, "email": "SAKIKO@Example.JP"}, token="two")
    assert make_submission(by_email, {**SIGNUP_ANSWERS, "email": "taro@example.jp"}, token="three").created


@pytest.mark.django_db
def test_a_withdrawn_or_rejected_case_no_longer_counts_and_a_reopen_takes_the_key_back(by_member, owner):
    first = make_submission(by_member, member_answers("A-1"), token="one").submission
    services.withdraw(submission=first, reason="書き間違えたため")
    first.refresh_from_db()
    assert first.duplicate_key == ""
    second = make_submission(by_member, member_answers("A-1"), token="two").submission
    services.transition(submission=second, to_status=Status.REJECTED, actor=owner, reason="要件を満たさない")
    second.refresh_from_db()
    assert second.duplicate_key == ""
    # Taken back: it counts again, and a new try is refused.
    services.reopen(submission=second, actor=owner, reason="確認したところ要件を満たしていた")
    second.refresh_from_db()
    assert second.status == Status.IN_REVIEW and second.duplicate_key
    with pytest.raises(services.DuplicateSubmission):
        make_submission(by_member, member_answers("A-1"), token="three")


@pytest.mark.django_db
def test_a_reopen_is_refused_while_another_case_holds_the_key(by_member, owner):
    first = make_submission(by_member, member_answers("A-1"), token="one").submission
    services.transition(submission=first, to_status=Status.REJECTED, actor=owner, reason="不備")
    second = make_submission(by_member, member_answers("A-1"), token="two").submission
    with pytest.raises(services.SubmissionError) as refused:
        services.reopen(submission=first, actor=owner, reason="取り消します")
    assert format_receipt_number(second.receipt_number) in str(refused.value)
    first.refresh_from_db()
    assert first.status == Status.REJECTED and first.duplicate_key == ""


@pytest.mark.django_db
def test_a_correction_that_takes_another_cases_key_is_refused(by_member, owner):
    make_submission(by_member, member_answers("A-1"), token="one")
    second = make_submission(by_member, member_answers("A-2"), token="two").submission
    services.transition(submission=second, to_status=Status.RETURNED, actor=owner, reason="番号を確認")
    with pytest.raises(services.DuplicateSubmission):
        services.resubmit(submission=second, answers=member_answers("a1"), staged_files={})
    second.refresh_from_db()
    assert second.status == Status.RETURNED and second.duplicate_key == key_of_procedure(by_member, "A-2")
    assert services.resubmit(submission=second, answers=member_answers("A-3"), staged_files={})
    second.refresh_from_db()
    assert second.duplicate_key == key_of_procedure(by_member, "A-3")


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_with_the_same_key_make_one_submission(tottori):
    procedure = make_procedure(
        tottori, MEMBER_SCHEMA, kind="application", duplicate_rule="field", duplicate_field="member"
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            make_submission(
                Procedure.objects.get(pk=procedure.pk), member_answers(f"{'Ａ' if i % 2 else 'a'}-77"),
                token=f"t{i}",
            )  # fmt: skip
            outcomes.append("ok")
        except services.DuplicateSubmission:
            outcomes.append("duplicate")
        finally:
            connection.close()

    run_at_once(*(lambda i=i: attempt(i) for i in range(6)))
    assert sorted(outcomes) == ["duplicate"] * 5 + ["ok"]
    assert Submission.objects.filter(procedure=procedure).count() == 1


@pytest.mark.django_db
@pytest.mark.database("postgresql")
def test_a_procedure_with_a_rule_takes_the_orm_path_which_writes_the_same_row_with_its_key(tottori):
    from tests.test_single_statement import row

    procedure = make_procedure(tottori, MEMBER_SCHEMA, kind="application")
    plain = make_submission(procedure, member_answers("A-1"), token="one")  # one statement
    Procedure.objects.filter(pk=procedure.pk).update(duplicate_rule="field", duplicate_field="member")
    procedure.refresh_from_db()
    assert (
        services.submit_confirmed(
            organization_code=tottori.code, procedure_id=procedure.pk,
            version_id=procedure.current_version_id, answers=member_answers("A-1"), token="two",
            applicant_email="sakiko@example.jp", **client_counted("two"),
        )
        is None
    )  # fmt: skip
    ruled = make_submission(procedure, member_answers("A-1"), token="two").submission
    a, b = (Submission.objects.get(pk=pk) for pk in (plain.submission.pk, ruled.pk))
    differ = ("receipt_number", "inquiry_code_hash", "token", "submitted_at", "updated_at", "duplicate_key")
    assert row(a, *differ) == row(b, *differ)
    assert a.duplicate_key == "" and b.duplicate_key == key_of_procedure(procedure, "A-1")


# The resident's pages -------------------------------------------------------------------------------------


def apply(client, procedure, data) -> object:
    url = reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})
    client.post(url, {"version": procedure.current_version_id, **data})
    confirm = reverse(
        "public:confirm", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )
    return client.post(confirm, hidden_fields(client.get(confirm).content.decode()), follow=True)


@pytest.mark.django_db
def test_the_resident_trying_again_is_told_the_first_receipt_number_at_the_field_with_answers_kept(
    client, by_member
):
    from django.test import Client

    data = {"member": "A-1234", "name__family": "髙橋", "name__given": "﨑子", "email": "a@example.jp"}
    apply(Client(), by_member, data)
    first = Submission.objects.get()
    response = apply(client, by_member, {**data, "member": "ａ－１２３４", "name__given": "花子"})
    page = response.content.decode()
    assert response.status_code == 400
    assert f"受付番号 {format_receipt_number(first.receipt_number)}" in page
    assert 'id="member-error"' in page and 'aria-invalid="true"' in page
    assert 'value="花子"' in page and 'value="a@example.jp"' in page  # nothing typed lost
    assert Submission.objects.count() == 1


@pytest.mark.django_db
def test_a_signup_by_address_is_refused_the_second_time(client, by_email):
    from django.test import Client

    apply(Client(), by_email, SIGNUP_POST)
    response = apply(client, by_email, SIGNUP_POST)
    assert "すでに申請を受け付けています" in response.content.decode()
    assert Submission.objects.count() == 1


# The builder's settings --------------------------------------------------------------------------------


def settings_form(procedure, **changes) -> ProcedureSettingsForm:
    data = {**model_to_dict(procedure, fields=ProcedureSettingsForm.Meta.fields), **changes}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    return ProcedureSettingsForm(data, instance=procedure, organization=procedure.organization)


@pytest.mark.django_db
def test_the_builder_refuses_a_rule_the_form_cannot_hold(tottori):
    procedure = make_procedure(tottori, MEMBER_SCHEMA, kind="application")
    form = settings_form(procedure, duplicate_rule="field", duplicate_field="nosuchfield")
    assert not form.is_valid()
    assert "このフォームの項目キー" in form.errors["duplicate_field"][0]
    form = settings_form(procedure, duplicate_rule="field", duplicate_field="photo")
    assert not form.is_valid() and "重複を判定できません" in form.errors["duplicate_field"][0]
    assert settings_form(procedure, duplicate_rule="field", duplicate_field="member").is_valid()
    # By address: the form's e-mail field will do, or verification.
    assert settings_form(procedure, duplicate_rule="email").is_valid()
    no_email = make_procedure(
        tottori, {"fields": [{"key": "member", "type": "short_text", "label": "会員番号"}]}, title="別"
    )
    form = settings_form(no_email, duplicate_rule="email")
    assert not form.is_valid() and "メールアドレスの確認" in form.errors["duplicate_rule"][0]
    assert settings_form(no_email, duplicate_rule="email", requires_email_verification="on").is_valid()


@pytest.mark.django_db
def test_on_a_form_with_pages_the_refusal_opens_the_page_of_the_key_field(client, tottori):
    from django.test import Client

    schema = {
        **MEMBER_SCHEMA,
        "pages": [
            {"key": "about", "title": "申請者", "fields": ["name", "email", "photo"]},
            {"key": "membership", "title": "会員", "fields": ["member"]},
        ],
    }
    procedure = make_procedure(
        tottori, schema, kind="application", duplicate_rule="field", duplicate_field="member"
    )
    url = reverse("public:form", kwargs={"code": tottori.code, "procedure_id": procedure.pk})
    confirm = reverse("public:confirm", kwargs={"code": tottori.code, "procedure_id": procedure.pk})

    def apply_paged(browser, member: str, given: str):
        version = procedure.current_version_id
        about = {"name__family": "髙橋", "name__given": given, "email": "a@example.jp"}
        browser.post(url, {"version": version, "page": "about", **about})
        browser.post(url, {"version": version, "page": "membership", "member": member})
        return browser.post(confirm, hidden_fields(browser.get(confirm).content.decode()), follow=True)

    apply_paged(Client(), "M-9", "﨑子")
    first = Submission.objects.get()
    response = apply_paged(client, "m９", "花子")
    page = response.content.decode()
    assert response.status_code == 400
    assert f"受付番号 {format_receipt_number(first.receipt_number)}" in page
    assert 'id="member-error"' in page and 'value="m９"' in page
    # The other page's answers are kept too.
    client.post(url, {"version": procedure.current_version_id, "page": "membership", "member": "m９",
                      "go_back": "1"})  # fmt: skip
    assert 'value="花子"' in client.get(url + "?page=about").content.decode()


@pytest.mark.django_db
def test_one_per_verified_address_without_an_email_field(tottori):
    from django.test import Client

    from tests.test_email_verification import NO_EMAIL_SCHEMA, ask_for_link, link_in_last_email, open_link

    procedure = make_procedure(
        tottori, NO_EMAIL_SCHEMA, requires_email_verification=True, duplicate_rule="email"
    )
    url = reverse("public:form", kwargs={"code": tottori.code, "procedure_id": procedure.pk})
    confirm = reverse("public:confirm", kwargs={"code": tottori.code, "procedure_id": procedure.pk})
    responses = []
    for address in ("taro@example.jp", "TARO@example.jp"):
        browser = Client()
        ask_for_link(browser, procedure, address)
        open_link(browser, link_in_last_email())
        browser.post(
            url,
            {"version": procedure.current_version_id, "name__family": "山田", "name__given": "太郎"},
        )
        responses.append(
            browser.post(confirm, hidden_fields(browser.get(confirm).content.decode()), follow=True)
        )
    first = Submission.objects.get()
    assert first.applicant_email == "taro@example.jp"
    page = responses[1].content.decode()
    assert f"受付番号 {format_receipt_number(first.receipt_number)}" in page and 'value="山田"' in page
