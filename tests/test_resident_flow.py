"""The resident's path through a form, with no JavaScript: what they see at each step."""

import copy
import re
from datetime import timedelta

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from madoguchi.lib import envelope
from madoguchi.notifications.models import OutgoingEmail
from madoguchi.procedures.models import Procedure
from madoguchi.procedures.services import save_form_version
from madoguchi.stats.models import DailyCount
from madoguchi.submissions import services
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Attachment, Status, Submission
from tests.conftest import ALL_TYPES_SCHEMA, SIGNUP_POST, hidden_fields, make_procedure, make_submission

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
    b"\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8\x00\x00\x00\x00IEND\xaeB`\x82"
)


def form_url(procedure):
    return reverse("public:form", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})


def confirm_url(procedure):
    return reverse(
        "public:confirm", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk}
    )


def post_form(client, procedure, data, **extra):
    return client.post(form_url(procedure), {"version": procedure.current_version_id, **data}, **extra)


def done_url(procedure):
    return reverse("public:done", kwargs={"code": procedure.organization.code, "procedure_id": procedure.pk})


def confirmed_form(client, procedure) -> dict:
    """What the 確認画面's submit button sends: the token and the confirmed answers, signed."""
    return hidden_fields(client.get(confirm_url(procedure)).content.decode())


def test_form_page_shows_every_field_with_labels(client, procedure):
    page = client.get(form_url(procedure)).content.decode()
    assert "シニア向けスマートフォン教室" in page
    for label in ("氏名", "ふりがな", "電話番号", "メールアドレス", "希望する回", "注意事項に同意します"):
        assert label in page
    assert 'autocomplete="family-name"' in page


def test_errors_are_in_japanese_and_keep_everything_typed(client, procedure):
    data = {**SIGNUP_POST, "phone": "12345", "furigana": "髙橋さきこ", "agree": ""}
    response = post_form(client, procedure, data, follow=True)
    page = response.content.decode()
    assert response.status_code == 400
    assert "入力内容を確認してください（3件）" in page
    assert "電話番号" in page and "ふりがなは" in page and "同意いただく必要があります" in page
    # What the resident typed is still there, exactly.
    assert 'value="髙橋"' in page and 'value="﨑子"' in page
    assert 'value="12345"' in page
    assert 'value="髙橋さきこ"' in page
    assert 'aria-invalid="true"' in page


def test_confirmation_page_shows_normalised_values_then_submit_gives_receipt(client, procedure, mailoutbox):
    response = post_form(client, procedure, SIGNUP_POST)
    assert response.status_code == 302 and response["Location"] == confirm_url(procedure)
    page = client.get(confirm_url(procedure)).content.decode()
    assert "入力内容の確認" in page
    assert "髙橋\u3000﨑子" in page
    assert "たかはし\u3000さきこ" in page  # katakana typed, hiragana asked for
    assert "0857-20-3111" in page  # full-width digits and dash normalised
    assert "sakiko@example.jp" in page
    assert Submission.objects.count() == 0  # not yet submitted

    done = client.post(confirm_url(procedure), hidden_fields(page), follow=True)
    page = done.content.decode()
    assert "お申込みを受け付けました" in page
    submission = Submission.objects.get()
    assert submission.display_receipt_number in page
    assert re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", page)  # the inquiry code
    assert read_answers(submission)["name"] == {"family": "髙橋", "given": "﨑子"}
    assert submission.status == Status.RECEIVED
    assert OutgoingEmail.objects.get().to == "sakiko@example.jp"
    assert DailyCount.objects.get().count == 1


def test_double_click_and_retry_return_the_same_receipt_number(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    first = client.post(confirm_url(procedure), confirmed, follow=True).content.decode()
    second = client.post(confirm_url(procedure), confirmed, follow=True).content.decode()
    submission = Submission.objects.get()
    assert submission.display_receipt_number in first
    assert submission.display_receipt_number in second
    assert Submission.objects.count() == 1
    assert DailyCount.objects.get().count == 1
    assert OutgoingEmail.objects.count() == 1


def test_a_double_click_whose_first_answer_the_browser_dropped_still_shows_the_inquiry_code(
    client, procedure
):
    from django.test import Client

    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    first_click = Client()
    first_click.cookies = copy.deepcopy(client.cookies)  # its response (and cookie) never reaches the page
    assert first_click.post(confirm_url(procedure), confirmed).status_code == 302
    page = client.post(confirm_url(procedure), confirmed, follow=True).content.decode()
    submission = Submission.objects.get()
    assert submission.display_receipt_number in page
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', page).group(1)
    assert services.check_inquiry_code(submission, code.replace("-", ""))


def test_what_was_confirmed_is_what_is_submitted_even_if_another_tab_changed_the_answers(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)  # tab A shows 髙橋 﨑子 to confirm
    post_form(client, procedure, {**SIGNUP_POST, "name__given": "花子"})  # tab B changes the name
    page = client.post(confirm_url(procedure), confirmed, follow=True).content.decode()
    assert "お申込みを受け付けました" in page
    assert read_answers(Submission.objects.get())["name"] == {"family": "髙橋", "given": "﨑子"}


def test_a_changed_confirmation_submits_nothing(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    # The answers re-signed by anyone but the server: here, another name, compressed and encoded alike.
    payload = signing.loads(confirmed["confirmed"], salt="madoguchi.confirmed")
    payload["a"]["name"]["given"] = "花子"
    forged_answers = signing.dumps(
        payload, key="not-the-server-key", salt="madoguchi.confirmed", compress=True
    )
    for forged in (
        {**confirmed, "confirmed": forged_answers},
        {**confirmed, "token": "another-token"},  # someone else's token with these answers
        {"token": confirmed["token"]},  # the token alone
    ):
        response = client.post(confirm_url(procedure), forged, follow=True)
        assert "有効期限が切れました" in response.content.decode()
    other = make_procedure(procedure.organization, title="別の手続")
    response = client.post(confirm_url(other), confirmed, follow=True)
    assert "有効期限が切れました" in response.content.decode()
    assert Submission.objects.count() == 0


def test_a_token_alone_from_another_browser_shows_nothing(client, procedure):
    """The token is the key to the inquiry code: sent without the signed answers by anyone but the
    browser that applied, it gives neither the receipt nor the code."""
    from django.test import Client

    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    client.post(confirm_url(procedure), confirmed)
    stranger = Client()
    response = stranger.post(confirm_url(procedure), {"token": confirmed["token"]}, follow=True)
    page = response.content.decode()
    assert "有効期限が切れました" in page and 'data-testid="inquiry-code"' not in page
    assert "madoguchi_done" not in stranger.cookies
    # The browser that applied, on a page too old to carry the answers, is shown its receipt.
    page = client.post(confirm_url(procedure), {"token": confirmed["token"]}, follow=True).content.decode()
    assert Submission.objects.get().display_receipt_number in page


def test_the_completion_page_needs_no_session_and_is_kept_no_longer_than_one(client, procedure, settings):
    post_form(client, procedure, SIGNUP_POST)
    response = client.post(confirm_url(procedure), confirmed_form(client, procedure))
    cookie = response.cookies["madoguchi_done"]
    assert cookie["path"] == done_url(procedure) and cookie["httponly"]
    assert cookie["max-age"] == settings.SESSION_COOKIE_AGE
    client.session.flush()  # the session is gone (expired, or cleared): the cookie still finds it
    client.cookies.pop(settings.SESSION_COOKIE_NAME, None)
    page = client.get(done_url(procedure)).content.decode()
    submission = Submission.objects.get()
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', page).group(1)
    assert submission.display_receipt_number in page and services.check_inquiry_code(
        submission, code.replace("-", "")
    )


def test_two_tabs_of_one_application_make_one_submission_and_the_later_is_told(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    tab_a = confirmed_form(client, procedure)
    post_form(client, procedure, {**SIGNUP_POST, "name__given": "花子"})  # tab B corrects the name
    tab_b = confirmed_form(client, procedure)
    first = client.post(confirm_url(procedure), tab_b, follow=True).content.decode()
    second = client.post(confirm_url(procedure), tab_a, follow=True).content.decode()
    submission = Submission.objects.get()
    assert read_answers(submission)["name"]["given"] == "花子"  # the one submitted first
    assert submission.display_receipt_number in first and submission.display_receipt_number in second
    assert "別の画面から先に送信されていました" not in first
    assert "別の画面から先に送信されていました" in second  # tab A's 﨑子 was not sent, and it says so
    again = client.post(confirm_url(procedure), tab_b, follow=True).content.decode()  # a double click
    assert "別の画面から先に送信されていました" not in again


def test_back_to_the_form_after_sending_says_it_was_sent_from_here(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    client.post(confirm_url(procedure), confirmed_form(client, procedure), follow=True)
    submission = Submission.objects.get()
    page = client.get(form_url(procedure)).content.decode()
    assert f"この端末からすでに送信されています（受付番号 {submission.display_receipt_number}）" in page
    post_form(client, procedure, {**SIGNUP_POST, "name__given": "花子"})  # a second, on purpose
    client.post(confirm_url(procedure), confirmed_form(client, procedure))
    assert Submission.objects.count() == 2


def test_a_submit_refused_as_closed_says_nothing_was_received(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.CLOSED)
    response = client.post(confirm_url(procedure), confirmed)
    page = response.content.decode()
    assert response.status_code == 409
    assert "送信された内容は受け付けられませんでした" in page and "受付は終了しました" in page


def test_the_completion_page_says_when_it_was_withdrawn_since(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    client.post(confirm_url(procedure), confirmed_form(client, procedure))
    Submission.objects.update(status=Status.WITHDRAWN)
    assert "その後取り下げられました" in client.get(done_url(procedure)).content.decode()


@pytest.mark.parametrize("change", ["closed", "new version"])
def test_a_retry_after_the_procedure_closed_or_changed_shows_the_receipt_it_was_given(
    client, procedure, change
):
    from django.test import Client

    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    lost = Client()
    lost.cookies = copy.deepcopy(client.cookies)
    lost.post(confirm_url(procedure), confirmed)  # received; its answer never reached the resident
    if change == "closed":
        Procedure.objects.filter(pk=procedure.pk).update(closes_at=timezone.now())
    else:
        schema = {**procedure.current_version.schema}
        schema["fields"] = [*schema["fields"], {"key": "memo", "type": "short_text", "label": "メモ"}]
        save_form_version(procedure=procedure, schema=schema)
    page = client.post(confirm_url(procedure), confirmed, follow=True).content.decode()
    assert Submission.objects.get().display_receipt_number in page and "受け付けました" in page
    assert Submission.objects.count() == 1


def test_the_completion_page_takes_the_answers_out_of_the_session(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    client.post(confirm_url(procedure), confirmed_form(client, procedure), follow=True)
    assert "髙橋" not in str(dict(client.session))
    assert client.get(done_url(procedure)).status_code == 200  # reloading it still shows the receipt


def test_the_completion_page_without_a_submission_goes_to_the_procedures(client, procedure):
    response = client.get(done_url(procedure))
    assert response.status_code == 302 and response["Location"] == f"/{procedure.organization.code}/"


def test_back_to_confirmation_after_submit_shows_the_same_receipt(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    client.post(confirm_url(procedure), confirmed_form(client, procedure))
    response = client.get(confirm_url(procedure), follow=True)
    assert Submission.objects.get().display_receipt_number in response.content.decode()
    assert "お申込みを受け付けました" in response.content.decode()
    page = client.get(form_url(procedure)).content.decode()  # a new application starts empty
    assert 'value="髙橋"' not in page


def test_back_to_form_shows_what_was_typed(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    page = client.get(form_url(procedure)).content.decode()
    assert 'value="髙橋"' in page and "checked" in page


def test_confirm_without_input_goes_back_to_form(client, procedure):
    response = client.get(confirm_url(procedure))
    assert response.status_code == 302 and response["Location"] == form_url(procedure)


def test_stale_token_asks_to_start_again_without_500(client, procedure):
    response = client.post(confirm_url(procedure), {"token": "forged"}, follow=True)
    assert response.status_code == 200
    assert "有効期限が切れました" in response.content.decode()
    assert Submission.objects.count() == 0


def test_forged_field_names_are_ignored(client, procedure):
    post_form(client, procedure, {**SIGNUP_POST, "is_admin": "1", "status": "completed"})
    client.post(confirm_url(procedure), confirmed_form(client, procedure))
    submission = Submission.objects.get()
    assert submission.status == Status.RECEIVED
    assert "is_admin" not in read_answers(submission)


def test_tampered_version_keeps_values_and_explains(client, procedure):
    response = client.post(form_url(procedure), {**SIGNUP_POST, "version": "999999"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "フォームの情報が正しくありません" in page
    assert 'value="髙橋"' in page


def test_form_changed_between_steps_asks_to_check_again(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    schema = {**procedure.current_version.schema}
    schema["fields"] = [*schema["fields"], {"key": "memo", "type": "short_text", "label": "メモ"}]
    save_form_version(procedure=procedure, schema=schema)
    response = client.post(confirm_url(procedure), confirmed, follow=True)
    page = response.content.decode()
    assert "入力フォームが更新されました" in page
    assert 'value="髙橋"' in page and 'value="﨑子"' in page  # what was typed is still there
    assert 'name="memo"' in page  # on the new version
    assert Submission.objects.count() == 0


def test_submission_stays_bound_to_its_version_labels(client, procedure, submission):
    schema = {**procedure.current_version.schema}
    schema["fields"] = [{**f, "label": "お名前"} if f["key"] == "name" else f for f in schema["fields"]]
    save_form_version(procedure=procedure, schema=schema)
    submission.refresh_from_db()
    assert submission.form_version.number == 1
    assert submission.form_version.spec.field("name").label == "氏名"
    procedure.refresh_from_db()
    assert procedure.current_version.number == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"opens_at": timezone.now() + timedelta(days=3)}, "受付はまだ始まっていません"),
        ({"closes_at": timezone.now() - timedelta(minutes=1)}, "受付は終了しました"),
        ({"status": Procedure.Status.CLOSED}, "受付は終了しました"),
    ],
)
def test_closed_procedures_say_so_plainly(client, procedure, fields, message):
    Procedure.objects.filter(pk=procedure.pk).update(**fields)
    page = client.get(form_url(procedure)).content.decode()
    assert message in page
    assert "入力内容を確認する" not in page


def test_draft_procedure_and_unknown_code_are_404_in_japanese(client, procedure):
    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.DRAFT)
    response = client.get(form_url(procedure))
    assert response.status_code == 404
    assert "ページが見つかりません" in response.content.decode()
    response = client.get("/999999/")
    assert response.status_code == 404
    assert "ページが見つかりません" in response.content.decode()


def test_capacity_full_says_so(client, tottori):
    procedure = make_procedure(tottori, capacity=1)
    post_form(client, procedure, SIGNUP_POST)
    client.post(confirm_url(procedure), confirmed_form(client, procedure))
    other = client.__class__()
    page = other.get(form_url(procedure)).content.decode()
    assert "定員に達したため" in page
    procedure.refresh_from_db()
    assert procedure.seats_taken == 1


def test_capacity_reached_between_confirm_and_submit_is_refused(client, tottori):
    procedure = make_procedure(tottori, capacity=1)
    post_form(client, procedure, SIGNUP_POST)
    confirmed = confirmed_form(client, procedure)
    Procedure.objects.filter(pk=procedure.pk).update(seats_taken=1)
    response = client.post(confirm_url(procedure), confirmed)
    assert response.status_code == 409
    assert "定員に達した" in response.content.decode()
    assert Submission.objects.count() == 0


def all_types_post(**overrides):
    data = {
        "title": "ＡＢＣ１２３",
        "body": "一行目\r\n二行目",
        "count": "１２",
        "email": "taro@example.jp",
        "phone": "090-1234-5678",
        "address__postal": "〒６８０－８５７０",
        "address__address": "鳥取市東町一丁目220",
        "name__family": "山﨑",
        "name__given": "太郎",
        "kana": "ﾔﾏｻﾞｷ ﾀﾛｳ",
        "birthday": "令和元年5月1日",
        "gender": "乙",
        "topics": ["介護", "子育て"],
        "area": "中部",
        "agree": "1",
    }
    data.update(overrides)
    return data


def test_every_field_type_is_normalised_and_the_file_is_attached(client, tottori):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("写真.png", PNG, content_type="image/png")
    response = post_form(client, procedure, {**all_types_post(), "doc": upload})
    assert response.status_code == 302, response.content.decode()
    page = client.get(confirm_url(procedure)).content.decode()
    assert "〒680-8570 鳥取市東町一丁目220" in page
    assert "2019年5月1日（令和元年5月1日）" in page
    assert "ヤマザキ\u3000タロウ" in page
    assert "子育て、介護" in page
    assert "写真.png" in page
    client.post(confirm_url(procedure), confirmed_form(client, procedure))
    submission = Submission.objects.get()
    answers = read_answers(submission)
    assert answers["title"] == "ＡＢＣ１２３"  # free text is kept as typed (only half-width kana widened)
    assert answers["count"] == "12"
    assert answers["birthday"] == "2019-05-01"
    assert answers["address"] == {"postal_code": "680-8570", "address": "鳥取市東町一丁目220"}
    attachment = Attachment.objects.get()
    assert attachment.original_name == "写真.png" and attachment.organization == tottori
    assert answers["doc"]["attachment"] == attachment.pk
    with envelope.open_file(tottori.pk, attachment.file.storage, attachment.file.name) as stored:
        assert stored.read() == PNG  # stored encrypted (lib/envelope.py), read back whole


def test_file_is_kept_when_another_field_has_an_error(client, tottori):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("doc.pdf", b"%PDF-1.4\n" + b"0" * 100, content_type="application/pdf")
    response = post_form(client, procedure, {**all_types_post(count="百"), "doc": upload}, follow=True)
    page = response.content.decode()
    assert response.status_code == 400 and "添付済み：doc.pdf" in page
    response = post_form(client, procedure, all_types_post())
    assert response.status_code == 302
    assert "doc.pdf" in client.get(confirm_url(procedure)).content.decode()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.exe", b"MZ" + b"0" * 50, "このファイル形式は添付できません"),
        ("fake.png", b"not a png at all", "ファイルの中身が PNG 形式ではありません"),
        ("big.pdf", b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 1), "1MB以下"),
    ],
)
def test_bad_files_get_a_clear_message(client, tottori, name, content, message):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile(name, content)
    response = post_form(client, procedure, {**all_types_post(), "doc": upload}, follow=True)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_status_page_shows_history_and_allows_withdrawal(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    done = client.post(confirm_url(procedure), confirmed_form(client, procedure), follow=True)
    page = done.content.decode()
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', page).group(1)
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', page).group(1)

    resident = client.__class__()
    response = resident.post(
        reverse("public:status"), {"receipt_number": receipt.replace("-", ""), "inquiry_code": code.lower()}
    )
    assert response.status_code == 302
    page = resident.get(reverse("public:status_view")).content.decode()
    assert "処理待ち" in page and "髙橋" in page

    response = resident.post(reverse("public:status_withdraw"), {"reason": ""}, follow=True)
    assert "取下げの理由を入力してください" in response.content.decode()
    response = resident.post(
        reverse("public:status_withdraw"), {"reason": "日程が合わなくなりました"}, follow=True
    )
    page = response.content.decode()
    assert "本当にキャンセルしますか" in page and "日程が合わなくなりました" in page  # the confirmation step
    assert Submission.objects.get().status == Status.RECEIVED
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    response = resident.post(reverse("public:status_withdraw_confirm"), {"token": token}, follow=True)
    page = response.content.decode()
    assert "申込をキャンセルしました" in page and "日程が合わなくなりました" in page
    assert Submission.objects.get().status == Status.WITHDRAWN
    assert "申請を取り下げる" not in page


def test_status_lookup_with_wrong_code_says_so_and_is_rate_limited(client, submission):
    url = reverse("public:status")
    response = client.post(url, {"receipt_number": submission.receipt_number, "inquiry_code": "AAAA-AAAA"})
    assert response.status_code == 400
    assert "組み合わせが見つかりません" in response.content.decode()
    mistyped = submission.receipt_number[:-1] + str((int(submission.receipt_number[-1]) + 1) % 10)
    response = client.post(url, {"receipt_number": mistyped, "inquiry_code": "AAAA-AAAA"})
    assert "受付番号が正しくありません" in response.content.decode()
    for _ in range(9):
        client.post(url, {"receipt_number": submission.receipt_number, "inquiry_code": "AAAA-AAAA"})
    response = client.post(url, {"receipt_number": submission.receipt_number, "inquiry_code": "AAAA-AAAA"})
    assert response.status_code == 429
    assert "この受付番号での確認に続けて失敗したため" in response.content.decode()


def test_one_residents_mistakes_do_not_lock_out_another_on_the_same_network(client, procedure):
    """A 公民館's Wi-Fi: one person keeps mistyping, the next person's correct codes still work."""
    url = reverse("public:status")
    someone = make_submission(procedure).submission
    for _ in range(12):
        client.post(url, {"receipt_number": someone.receipt_number, "inquiry_code": "AAAA-AAAA"})
    assert (
        client.post(url, {"receipt_number": someone.receipt_number, "inquiry_code": "AAAA-AAAA"}).status_code
        == 429
    )
    mine = make_submission(procedure)
    response = client.post(
        url, {"receipt_number": mine.submission.receipt_number, "inquiry_code": mine.inquiry_code}
    )
    assert response.status_code == 302 and response["Location"] == reverse("public:status_view")


def test_status_view_without_lookup_redirects(client):
    response = client.get(reverse("public:status_view"))
    assert response.status_code == 302 and response["Location"] == reverse("public:status")


def test_home_search_finds_procedures_across_organizations(client, procedure, council):
    page = client.get("/", {"q": "ｽﾏｰﾄﾌｫﾝ"}).content.decode()
    assert "シニア向けスマートフォン教室" in page and "検索結果 1件" in page
    page = client.get("/", {"q": "しにあ　すまーとふぉん"}).content.decode()  # typed in hiragana
    assert "シニア向けスマートフォン教室" in page and "検索結果 1件" in page
    assert "鳥取市" in page and "米子市" in page  # members listed
    page = client.get("/312011/").content.decode()
    assert "シニア向けスマートフォン教室" in page
    page = client.get("/312029/").content.decode()
    assert "シニア向けスマートフォン教室" not in page


def submit_and_look_up(client, procedure, data, **files):
    """Submit through the pages, then look the submission up as the resident would, in a new browser."""
    assert post_form(client, procedure, {**data, **files}).status_code == 302
    page = client.post(confirm_url(procedure), confirmed_form(client, procedure), follow=True)
    page = page.content.decode()
    receipt = re.search(r'data-testid="receipt-number">([^<]+)<', page).group(1)
    code = re.search(r'data-testid="inquiry-code">([^<]+)<', page).group(1)
    resident = client.__class__()
    resident.post(reverse("public:status"), {"receipt_number": receipt, "inquiry_code": code})
    return resident, Submission.objects.get(receipt_number=receipt.replace("-", ""))


def test_returned_submission_is_corrected_and_resubmitted_with_the_same_receipt(client, tottori, colleague):
    from madoguchi.stats.services import status_counts
    from madoguchi.submissions import services

    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("写真.png", PNG, content_type="image/png")
    resident, submission = submit_and_look_up(client, procedure, all_types_post(), doc=upload)
    services.transition(
        submission=submission, to_status=Status.RETURNED, actor=colleague, reason="電話番号が不通です"
    )

    page = resident.get(reverse("public:status_view")).content.decode()
    assert "返却中" in page and "電話番号が不通です" in page and "内容を修正する" in page
    page = resident.get(reverse("public:status_correct")).content.decode()
    assert "電話番号が不通です" in page and submission.display_receipt_number in page
    assert 'value="山﨑"' in page and 'value="090-1234-5678"' in page  # the stored answers fill the form
    assert 'value="令和元年5月1日"' in page  # a date as a resident would write it, which reads back
    assert "添付済み：写真.png" in page

    bad = resident.post(
        reverse("public:status_correct"), all_types_post(phone="0857-20", title="直した件名"), follow=True
    )
    assert bad.status_code == 400
    assert "電話番号" in bad.content.decode() and 'value="直した件名"' in bad.content.decode()

    good = resident.post(reverse("public:status_correct"), all_types_post(phone="0857-22-8111"))
    assert good.status_code == 302
    page = resident.get(reverse("public:status_correct_confirm")).content.decode()
    assert "0857-22-8111" in page and "写真.png" in page and "この内容で再提出する" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    # 「入力画面に戻って修正する」 goes back with the answers, and resubmits nothing.
    back = resident.post(reverse("public:status_correct_confirm"), {"token": token, "edit": "1"}, follow=True)
    assert 'value="0857-22-8111"' in back.content.decode()
    assert Submission.objects.get(pk=submission.pk).status != Status.RECEIVED
    page = resident.post(reverse("public:status_correct_confirm"), {"token": token}, follow=True)
    assert "再提出しました" in page.content.decode()
    # A second click finds it already resubmitted: nothing happens twice.
    resident.post(reverse("public:status_correct_confirm"), {"token": token})

    submission.refresh_from_db()
    answers = read_answers(submission)
    assert submission.status == Status.RECEIVED and answers["phone"] == "0857-22-8111"
    assert answers["doc"]["name"] == "写真.png"  # the file attached before is kept
    assert submission.revisions.count() == 1
    assert [h.to_status for h in submission.history.all()] == ["received", "returned", "received"]
    assert status_counts([procedure.pk])[procedure.pk] == {"received": 1, "returned": 0}

    client.force_login(colleague)
    staff_page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk}))
    staff_page = staff_page.content.decode()
    assert "補正前の内容" in staff_page and "090-1234-5678" in staff_page  # what it said before
    assert "写真.png（" in staff_page and "（ダウンロード）</a>" in staff_page


def test_correction_only_while_returned(client, procedure):
    resident, _ = submit_and_look_up(client, procedure, SIGNUP_POST)
    response = resident.get(reverse("public:status_correct"), follow=True)
    assert "いまは修正できる状態ではありません" in response.content.decode()
    assert client.__class__().get(reverse("public:status_correct")).status_code == 302
    assert client.__class__().post(reverse("public:status_correct_confirm")).status_code == 302


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b"name__family=\xff\xfe\x81&name__given=%E5%AD%90",
            "application/x-www-form-urlencoded",
            "入力内容を確認してください",
        ),
        (
            b"name__family=\x82\xa0",
            "application/x-www-form-urlencoded; charset=no-such-charset",
            "入力内容を確認してください",
        ),
        (b"garbage without a boundary", "multipart/form-data", "送信内容を受け付けられません"),
        (
            b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n',
            "multipart/form-data; boundary=b",
            "フォームの情報が正しくありません",
        ),
    ],
)
def test_broken_encodings_get_a_japanese_message_not_a_500(client, procedure, body, content_type, message):
    if "urlencoded" in content_type:
        body = f"version={procedure.current_version_id}&".encode() + body
    response = client.generic("POST", form_url(procedure), body, content_type=content_type)
    if response.status_code == 302:  # the page with the message is the GET it redirects to
        response = client.get(response["Location"])
    assert response.status_code < 500
    assert message in response.content.decode()


def test_a_version_id_in_other_digits_is_explained_not_a_500(client, procedure):
    response = client.post(form_url(procedure), {**SIGNUP_POST, "version": "²"}, follow=True)
    assert response.status_code == 200
    assert "フォームの情報が正しくありません" in response.content.decode()


def test_double_click_with_a_file_shows_the_receipt_even_if_the_first_click_took_the_file(
    client, tottori, monkeypatch
):
    """The second click read the session before the first committed; the first then took the staged file."""
    from django.test import Client

    from madoguchi.submissions import resident_views

    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("写真.png", PNG, content_type="image/png")
    assert post_form(client, procedure, {**all_types_post(), "doc": upload}).status_code == 302
    confirmed = confirmed_form(client, procedure)
    claim = resident_views._claim_staged_files

    def first_click_finishes_now(*args):
        monkeypatch.setattr(resident_views, "_claim_staged_files", claim)
        other = Client()
        other.cookies = client.cookies
        assert other.post(confirm_url(procedure), confirmed)["Location"].endswith("/done/")
        return claim(*args)

    monkeypatch.setattr(resident_views, "_claim_staged_files", first_click_finishes_now)
    second = client.post(confirm_url(procedure), confirmed)
    assert second["Location"].endswith("/done/")
    assert Submission.objects.count() == 1


def return_for_correction(client, procedure, colleague, reason, **answers):
    from madoguchi.submissions import services

    resident, submission = submit_and_look_up(client, procedure, all_types_post(**answers))
    services.transition(submission=submission, to_status=Status.RETURNED, actor=colleague, reason=reason)
    return resident, submission


def correct(resident, **answers) -> str:
    assert resident.post(reverse("public:status_correct"), all_types_post(**answers)).status_code == 302
    page = resident.get(reverse("public:status_correct_confirm")).content.decode()
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def test_status_e_mails_follow_the_corrected_address(client, tottori, colleague):
    from madoguchi.submissions import services

    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    resident, submission = return_for_correction(
        client, procedure, colleague, "メールが届きません。直してください", email="wrong@example.jp"
    )
    token = correct(resident, email="right@example.jp")
    resident.post(reverse("public:status_correct_confirm"), {"token": token})
    ack = OutgoingEmail.objects.get(kind="resubmit")
    assert ack.to == "right@example.jp" and ack.subject.startswith("【再提出】全項目（受付番号 ")
    assert (
        "修正した内容で再提出を受け付けました" in ack.body and submission.display_receipt_number in ack.body
    )
    submission.refresh_from_db()
    services.transition(submission=submission, to_status=Status.COMPLETED, actor=colleague)
    assert OutgoingEmail.objects.order_by("-id").first().to == "right@example.jp"


def test_double_click_on_resubmit_says_it_was_resubmitted(client, tottori, colleague):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    resident, submission = return_for_correction(client, procedure, colleague, "直してください")
    token = correct(resident, phone="0857-22-8111")
    resident.post(reverse("public:status_correct_confirm"), {"token": token})
    resident.get(reverse("public:status_view"))  # the first click's page, which the browser never shows
    second = resident.post(reverse("public:status_correct_confirm"), {"token": token}, follow=True)
    page = second.content.decode()
    assert "再提出しました" in page and "いまは修正できる状態ではありません" not in page
    assert submission.revisions.count() == 1


def test_organization_page_says_when_a_sign_up_is_full(client, tottori):
    procedure = make_procedure(tottori, capacity=2)
    page = client.get(f"/{tottori.code}/").content.decode()
    assert "残り2人" in page and "定員に達しました" not in page
    Procedure.objects.filter(pk=procedure.pk).update(seats_taken=2)
    page = client.get(f"/{tottori.code}/").content.decode()
    assert "定員に達しました" in page and "残り" not in page


def test_withdrawal_without_a_reason_is_explained_at_the_reason_box(client, procedure):
    resident, _ = submit_and_look_up(client, procedure, SIGNUP_POST)
    response = resident.post(reverse("public:status_withdraw"), {"reason": "  "})
    assert response["Location"].endswith("#reason")  # the box itself, which the browser focuses
    page = resident.get(response["Location"]).content.decode()
    assert 'id="reason-error" role="alert">取下げの理由を入力してください。' in page
    assert 'aria-invalid="true" aria-describedby="reason-error"' in page
    assert "元に戻せません" in page


def test_counts_take_a_unit_and_refuse_decimals(client, tottori):
    schema = {
        "fields": [
            {"key": "copies", "type": "number", "label": "必要な通数", "required": True, "min_value": "1",
             "max_value": "10", "whole_number": True, "unit": "通"},
        ]
    }  # fmt: skip
    procedure = make_procedure(tottori, schema, title="証明書")
    page = post_form(client, procedure, {"copies": "1.5"}, follow=True).content.decode()
    assert "整数で入力してください" in page and 'value="1.5"' in page
    assert ">必要な通数：必要な通数" not in page
    assert post_form(client, procedure, {"copies": "２通"}).status_code == 302
    assert "<dd>2通</dd>" in client.get(confirm_url(procedure)).content.decode()


def test_error_summary_names_the_field_once(client, procedure):
    empty = {**SIGNUP_POST, "name__family": "", "name__given": ""}
    page = post_form(client, procedure, empty, follow=True).content.decode()
    assert ">「氏名」を入力してください</a>" in page and "氏名：「氏名」" not in page
    page = post_form(client, procedure, {**SIGNUP_POST, "name__family": ""}, follow=True).content.decode()
    assert ">氏名：姓を入力してください</a>" in page  # a message without the label gets it in front


def test_a_birth_date_in_the_future_is_refused(client, tottori):
    schema = {"fields": [{"key": "born", "type": "date", "label": "生年月日", "past_only": True}]}
    procedure = make_procedure(tottori, schema, title="届")
    page = post_form(client, procedure, {"born": "令和30年1月1日"}, follow=True).content.decode()
    assert "今日より後の日付は入力できません" in page and 'value="令和30年1月1日"' in page
    assert post_form(client, procedure, {"born": "昭和35年4月1日"}).status_code == 302


def test_behind_the_proxy_each_resident_is_counted_by_their_own_address(client, procedure, settings):
    settings.BEHIND_TLS_PROXY = True
    url = reverse("public:status")
    someone = make_submission(procedure).submission
    wrong = {"receipt_number": someone.receipt_number[:-1] + "0", "inquiry_code": "AAAA-AAAA"}
    from madoguchi.submissions import resident_views

    for n in range(resident_views.LOOKUP_FAILURES_PER_CLIENT):
        wrong["receipt_number"] = f"{n:010d}"  # many different numbers: only the per-address limit applies
        client.post(url, wrong, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7")
    blocked = client.post(url, wrong, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert blocked.status_code == 429
    mine = make_submission(procedure)
    ok = client.post(
        url,
        {"receipt_number": mine.submission.receipt_number, "inquiry_code": mine.inquiry_code},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    assert ok.status_code == 302  # another resident behind the same proxy is not locked out
