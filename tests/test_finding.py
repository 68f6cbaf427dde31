"""Residents find a procedure: by title, summary and reading in any script and width, through the council's
synonyms, by 分類 and ライフイベント, among the popular and new ones, and the prefecture's on a municipality's
page (procedures/finding.py, organizations/views.py)."""

import re
from datetime import timedelta

import jaconv
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.procedures import finding
from madoguchi.procedures.models import Procedure
from madoguchi.procedures.services import create_procedure, update_procedure_settings
from madoguchi.stats.models import DailyCount
from tests.conftest import make_procedure, make_submission

pytestmark = pytest.mark.django_db


def titles(page: str) -> list[str]:
    """The procedure titles a list on the page shows, in order."""
    return re.findall(r'<li><a href="/\d{6}/procedures/\d+/">([^<]+)</a>', page)


def section(page: str, heading_id: str) -> str:
    match = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)
    return match.group(1) if match else ""


@pytest.fixture
def juminhyo(tottori):
    return make_procedure(
        tottori,
        title="住民票の写しの郵送請求",
        summary="住民票の写しを郵送で請求できます。",
        kind="application",
        category="shomeisho",
        life_events=["moving"],
    )


@pytest.fixture
def tennyu(tottori):
    return make_procedure(
        tottori, title="転入届", summary="ほかの市町村から引っ越してきた方の届出です。", kind="notification"
    )


# Reading, script and width ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["じゅうみんひょう", "ジュウミンヒョウ", "ｼﾞｭｳﾐﾝﾋｮｳ", "住民票", "じゅうみんひょう　写し"]
)
def test_the_reading_finds_the_title_in_any_script_and_width(client, juminhyo, procedure, query):
    page = client.get("/", {"q": query}).content.decode()
    assert titles(page) == ["住民票の写しの郵送請求"]
    page = client.get("/312011/", {"q": query}).content.decode()
    assert titles(page) == ["住民票の写しの郵送請求"]


@pytest.mark.parametrize("query", ["転入", "てんにゅう", "テンニュウ", "転入 届"])
def test_tennyu_finds_the_notification(client, tennyu, juminhyo, query):
    page = client.get("/", {"q": query}).content.decode()
    assert titles(page) == ["転入届"]


def test_the_names_of_a_category_and_a_life_event_find_the_procedure(client, juminhyo, tennyu):
    assert titles(client.get("/", {"q": "引越し"}).content.decode()) == ["住民票の写しの郵送請求"]
    assert titles(client.get("/", {"q": "ひっこし 証明書"}).content.decode()) == ["住民票の写しの郵送請求"]
    juminhyo.life_events = []
    juminhyo.save(update_fields=["life_events"])  # every write path keeps the column
    assert titles(client.get("/", {"q": "引越し"}).content.decode()) == []


def test_tennyu_finds_the_moving_procedures_through_the_councils_synonyms(
    client, juminhyo, tennyu, council, secretariat
):
    finding.save_search_synonyms(council=council, actor=secretariat, text="転入 = 引越し = 転居")
    assert sorted(titles(client.get("/", {"q": "転入"}).content.decode())) == [
        "住民票の写しの郵送請求",
        "転入届",
    ]


def test_every_word_must_match(client, juminhyo, tennyu):
    assert titles(client.get("/", {"q": "住民票 郵送"}).content.decode()) == ["住民票の写しの郵送請求"]
    page = client.get("/", {"q": "住民票 転入"}).content.decode()
    assert titles(page) == [] and "見つかりませんでした" in page


def test_staff_reading_replaces_the_guessed_one(owner, tottori):
    procedure = create_procedure(organization=tottori, actor=owner, title="転入届", kind="notification")
    assert (
        procedure.search_text.split("\n")[0] == "転入届てんにゅうとどけ"
    )  # the title and pykakasi's reading
    update_procedure_settings(
        procedure=procedure, actor=owner, values={"title_reading": "てんにゅうのとどけ"}
    )
    procedure.refresh_from_db()
    assert procedure.search_text.split("\n")[0] == "転入届てんにゅうのとどけ"
    update_procedure_settings(
        procedure=procedure, actor=owner, values={"title": "転出届", "title_reading": ""}
    )
    procedure.refresh_from_db()
    assert procedure.search_text.split("\n")[0] == "転出届てんしゅつとどけ"


def test_imported_and_distributed_copies_are_found_by_their_reading(client, owner, pref, tottori, tennyu):
    import json

    from madoguchi.procedures import services

    data = json.dumps(services.export_procedure(tennyu)).encode()
    imported = services.import_procedure(organization=tottori, actor=owner, data=data)
    assert imported.search_text.split("\n")[0] == "転入届てんにゅうとどけ"
    prefecture_procedure = make_procedure(pref, title="県税の納税証明書")
    (copy,) = services.distribute(procedure=prefecture_procedure, organizations=[tottori], actor=None)
    assert copy.search_text.split("\n")[0] == "県税の納税証明書けんぜいののうぜいしょうめいしょ"


def test_existing_procedures_get_their_search_text_from_the_migration(client, juminhyo):
    from importlib import import_module

    from django.apps import apps

    Procedure.objects.filter(pk=juminhyo.pk).update(search_text="")  # as before the migration
    assert titles(client.get("/", {"q": "じゅうみんひょう"}).content.decode()) == []
    import_module("madoguchi.procedures.migrations.0007_procedure_search_text").fill_search_text(apps, None)
    assert titles(client.get("/", {"q": "じゅうみんひょう"}).content.decode()) == ["住民票の写しの郵送請求"]


def test_title_matches_come_before_summary_matches(client, tottori):
    make_procedure(tottori, title="ごみ収集の申込", summary="粗大ごみのほか、スマートフォンの回収もします。")
    make_procedure(tottori, title="スマートフォン講座", summary="")
    page = client.get("/", {"q": "スマートフォン"}).content.decode()
    assert titles(page) == ["スマートフォン講座", "ごみ収集の申込"]


def test_english_title_is_searched(client, tottori):
    make_procedure(tottori, title="転入届", title_en="Moving-in notification")
    assert titles(client.get("/", {"q": "ＭＯＶＩＮＧ"}).content.decode()) == ["転入届"]


def test_only_published_procedures_are_found(client, tottori, juminhyo):
    Procedure.objects.create(organization=tottori, title="住民票の写しの交付（準備中）")
    assert titles(client.get("/", {"q": "じゅうみんひょう"}).content.decode()) == ["住民票の写しの郵送請求"]


# Synonyms of the council -------------------------------------------------------------------------------


def test_a_synonym_saved_by_the_secretariat_finds_the_procedure(client, secretariat, council, procedure):
    assert titles(client.get("/", {"q": "スマホ"}).content.decode()) == []
    staff = client.__class__()
    staff.force_login(secretariat)
    url = reverse("staff:council_synonyms", kwargs={"council_id": council.pk})
    council_page = staff.get(reverse("staff:council", kwargs={"council_id": council.pk})).content.decode()
    assert f'href="{url}"' in council_page  # the secretariat finds the list from the council's page
    assert staff.get(url).status_code == 200
    response = staff.post(url, {"synonyms": "# 住民がよく使う言葉\nスマホ → スマートフォン\n"})
    assert response.status_code == 302
    assert titles(client.get("/", {"q": "スマホ"}).content.decode()) == ["シニア向けスマートフォン教室"]
    assert titles(client.get("/", {"q": "ｽﾏﾎ教室"}).content.decode()) == ["シニア向けスマートフォン教室"]
    assert titles(client.get("/312011/", {"q": "すまほ"}).content.decode()) == [
        "シニア向けスマートフォン教室"
    ]
    entry = AuditLog.objects.get(action="council.search_synonyms")
    assert entry.actor == secretariat and entry.organization == council.secretariat
    assert (
        entry.detail["new"] == "# 住民がよく使う言葉\nスマホ → スマートフォン" and entry.detail["old"] == ""
    )


def test_synonyms_apply_only_inside_their_council(client, tottori, procedure, council):
    council.search_synonyms = "スマホ → スマートフォン"
    council.save()
    outside = make_procedure(
        tottori.__class__.objects.create(code="322016", kind="municipality", name="静岡市"),
        title="スマートフォン相談会",
    )
    page = client.get(f"/{outside.organization.code}/", {"q": "スマホ"}).content.decode()
    assert titles(page) == []
    assert titles(client.get("/312011/", {"q": "スマホ"}).content.decode()) == [
        "シニア向けスマートフォン教室"
    ]


def test_two_way_groups(client, juminhyo, tennyu, council):
    finding.save_search_synonyms(council=council, actor=None, text="転入 = 引越し\n写し、コピー")
    # 転入届 by its title through the group, first; the other by its life event 引越し
    assert titles(client.get("/", {"q": "引越し"}).content.decode()) == ["転入届", "住民票の写しの郵送請求"]
    assert titles(client.get("/", {"q": "住民票 コピー"}).content.decode()) == ["住民票の写しの郵送請求"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("スマホ → スマートフォン\nスマホ", "2行目"),
        ("→ スマートフォン", "1行目"),
        ("# メモ\n\nスマホ → スマートフォン → 携帯", "3行目"),
        ("a = b → c", "1行目"),
        ("スマホ → " + "あ" * 51, "1行目"),
    ],
)
def test_a_malformed_line_is_refused_with_its_number(client, secretariat, council, text, line):
    client.force_login(secretariat)
    url = reverse("staff:council_synonyms", kwargs={"council_id": council.pk})
    response = client.post(url, {"synonyms": text})
    page = response.content.decode()
    assert response.status_code == 400
    assert line in page and 'aria-describedby="id_synonyms_helptext id_synonyms-error"' in page
    assert text.split("\n")[0] in page  # what was typed is kept
    council.refresh_from_db()
    assert council.search_synonyms == "" and not AuditLog.objects.filter(action="council.search_synonyms")


def test_a_member_organization_and_an_outsider_get_404_on_the_synonyms_page(client, owner, outsider, council):
    url = reverse("staff:council_synonyms", kwargs={"council_id": council.pk})
    for user in (owner, outsider):  # 鳥取市 is a member, not the secretariat; 米子市's admin neither
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.post(url, {"synonyms": "スマホ → スマートフォン"}).status_code == 404
    council.refresh_from_db()
    assert council.search_synonyms == ""


# Browsing ----------------------------------------------------------------------------------------------


def test_browse_by_category_and_life_event_without_javascript(client, juminhyo, tennyu, procedure):
    home = client.get("/").content.decode()
    assert '<a href="?category=shomeisho">証明書' in home and '<a href="?event=moving">引越し' in home
    assert "?category=kaigo" not in home  # no procedure in 介護: no link leading nowhere
    page = client.get("/", {"category": "shomeisho"}).content.decode()
    assert titles(section(page, "results-heading")) == ["住民票の写しの郵送請求"]
    assert "分類「証明書」の手続 1件" in page
    page = client.get("/312011/", {"event": "moving"}).content.decode()
    assert titles(page) == ["住民票の写しの郵送請求"] and "ライフイベント「引越し」の手続 1件" in page
    assert 'href="?event=moving" aria-current="page"' in page
    page = client.get("/", {"category": "nonsense\x00"}).content.decode()
    assert titles(section(page, "results-heading")) == []


def test_categories_and_life_events_read_in_english_and_still_find_in_japanese(juminhyo):
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    home = english.get("/").content.decode()
    assert (
        '<a href="?category=shomeisho">Certificates' in home
        and '<a href="?event=moving">Moving house' in home
    )
    juminhyo.title = "住民票の写しの郵送請求（改）"
    with translation.override("en"):
        juminhyo.save()  # saved from an English page: the search still holds the Japanese names
    assert titles(Client().get("/", {"q": "引越し"}).content.decode()) == ["住民票の写しの郵送請求（改）"]


def test_life_events_are_whole_codes(client, tottori):
    make_procedure(tottori, title="出生届", life_events=["birth"])
    make_procedure(tottori, title="転居届", life_events=["moving", "marriage"])
    assert titles(client.get("/", {"event": "marriage"}).content.decode()) == ["転居届"]
    assert titles(client.get("/", {"event": "birth"}).content.decode()) == ["出生届"]


# Popular and new ---------------------------------------------------------------------------------------


def test_popular_comes_from_the_daily_counts_of_the_last_30_days(
    client, tottori, procedure, juminhyo, tennyu
):
    for _ in range(2):
        make_submission(procedure)
    make_submission(juminhyo)
    DailyCount.objects.create(
        organization=tottori,
        procedure=tennyu,
        day=timezone.localdate() - timedelta(days=31),
        fiscal_year=2026,
        count=100,
    )  # too old to count
    page = client.get("/").content.decode()
    assert titles(section(page, "popular-heading")) == [
        "シニア向けスマートフォン教室",
        "住民票の写しの郵送請求",
    ]


def test_popular_never_scans_the_submissions(tottori, procedure, django_assert_max_num_queries):
    make_submission(procedure)
    with django_assert_max_num_queries(2):
        assert finding.popular() == [procedure]


def test_newest_lists_the_latest_first_published(client, tottori, juminhyo, tennyu):
    page = client.get("/").content.decode()
    assert titles(section(page, "newest-heading")) == ["転入届", "住民票の写しの郵送請求"]
    Procedure.objects.filter(pk=juminhyo.pk).update(status=Procedure.Status.CLOSED)
    assert titles(section(client.get("/").content.decode(), "newest-heading")) == ["転入届"]


# The prefecture's procedures on a municipality's page ----------------------------------------------------


def test_a_municipality_lists_its_prefectures_procedures_and_searches_them(
    client, pref, tottori, yonago, juminhyo
):
    make_procedure(pref, title="県営住宅の入居申込", category="shisetsu")
    page = client.get("/312011/").content.decode()
    assert titles(section(page, "own-heading")) == ["住民票の写しの郵送請求"]
    assert titles(section(page, "prefecture-heading")) == ["県営住宅の入居申込"]
    assert "鳥取県の手続（鳥取市にお住まいの方も使えます）" in page
    page = client.get("/312029/").content.decode()  # 米子市 has none of its own
    assert titles(section(page, "prefecture-heading")) == ["県営住宅の入居申込"]
    page = client.get("/312011/", {"q": "けんえいじゅうたく"}).content.decode()
    assert titles(section(page, "prefecture-heading")) == ["県営住宅の入居申込"]
    assert titles(section(page, "own-heading")) == []
    page = client.get("/312011/", {"category": "shisetsu"}).content.decode()
    assert titles(page) == ["県営住宅の入居申込"]
    page = client.get("/310000/").content.decode()  # the prefecture's own page has no such section
    assert titles(page) == ["県営住宅の入居申込"] and "prefecture-heading" not in page


# The builder's reading ----------------------------------------------------------------------------------


def _settings_post(client, procedure, **values):
    url = reverse("staff:builder_settings", kwargs={"procedure_id": procedure.pk})
    token = re.search(r'name="settings_token" value="([^"]+)"', client.get(url).content.decode()).group(1)
    base = {"title": procedure.title, "kind": procedure.kind, "retention_years": "5", "settings_token": token}
    return client.post(url, {**base, **values})


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ジュウミンヒョウ", "じゅうみんひょう"),
        ("ｼﾞｭｳﾐﾝﾋｮｳ", "じゅうみんひょう"),
        ("じゅうみん　ひょう", "じゅうみん ひょう"),
    ],
)
def test_the_builders_reading_is_kept_in_hiragana_and_found(client, editor, tottori, typed, kept):
    procedure = make_procedure(tottori, title="御用証明")
    client.force_login(editor)
    assert _settings_post(client, procedure, title_reading=typed).status_code == 302
    procedure.refresh_from_db()
    assert procedure.title_reading == kept
    assert titles(Client().get("/", {"q": "じゅうみんひょう"}).content.decode()) == ["御用証明"]


@pytest.mark.parametrize("typed", ["住民票", "juminhyo", "じゅうみんひょう1"])
def test_a_reading_not_in_kana_is_refused_next_to_the_field(client, editor, tottori, typed):
    procedure = make_procedure(tottori, title="御用証明")
    client.force_login(editor)
    response = _settings_post(client, procedure, title_reading=typed)
    page = response.content.decode()
    assert response.status_code == 400
    assert "よみは、ひらがなで入力してください" in page and f'value="{typed}"' in page
    procedure.refresh_from_db()
    assert procedure.title_reading == ""


# Any input ---------------------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=120)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=ANY_TEXT, category=ANY_TEXT, event=ANY_TEXT)
def test_no_query_is_an_error(client, procedure, council, query, category, event):
    council.search_synonyms = "スマホ → スマートフォン\n転入 = 引越し"
    council.save()
    for path in ("/", "/312011/"):
        response = client.get(path, {"q": query, "category": category, "event": event})
        assert response.status_code == 200
    response = client.get("/", {"q": "\x00" + query})
    assert response.status_code == 200


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cs",))))
def test_any_synonym_list_parses_or_names_its_lines(text):
    try:
        rules = finding.parse_synonyms(text)
    except finding.SynonymError as exc:
        assert all(re.match(r"\d+行目：|同義語は", line) for line in str(exc).split("\n"))
    else:
        for word in ("すまほ", text[:10]):
            assert finding.fold(word).replace(" ", "") in rules.alternatives(
                finding.fold(word).replace(" ", "")
            )


KANA_AND_KANJI = st.text(
    st.sampled_from(
        list(
            "あいうえおかきくけこがぎぐげごさしすせそたちつてとなにぬねのはばぱまみむめもやゆよらりるれろわをんっゃゅょー"
        )
        + list("住民票転入届写請求教室申込子育て介護税証明書")
        + list("ABCabc0123 ")
    ),
    min_size=1,
    max_size=30,
).filter(lambda t: t.strip())


def _scripts(title: str) -> list[str]:
    katakana = jaconv.hira2kata(title)
    return [
        title,
        katakana,
        jaconv.z2h(katakana, kana=True, ascii=True, digit=True),  # ｶﾀｶﾅ and ABC half width
        jaconv.h2z(title, kana=True, ascii=True, digit=True),  # ＡＢＣ０１２ full width
        title.replace(" ", "\u3000"),
    ]


@settings(max_examples=300, deadline=None)
@given(title=KANA_AND_KANJI)
def test_folding_meets_in_any_script_and_width(title):
    stored = finding.search_text_of(Procedure(title=title))
    for variant in _scripts(title):
        assert all(word in stored for word in finding.query_words(variant)), variant


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=KANA_AND_KANJI)
def test_a_title_always_finds_itself(procedure, title):
    procedure.title = title
    procedure.save()
    for variant in _scripts(title):
        assert procedure in finding.search(variant), variant
