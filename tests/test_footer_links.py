"""The footer of every page: 利用規約, 個人情報の取扱い, アクセシビリティ, お問い合わせ. An organization's resident pages
link to its own pages where its admin set them, else to this system's pages; the admin edits them on a staff
page (audited), with only https:// or a path of this site accepted."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import assume, given
from hypothesis import strategies as st

from madoguchi.audit.models import AuditLog
from madoguchi.organizations import services
from madoguchi.organizations.admin import OrganizationAdminForm
from madoguchi.organizations.models import Organization

pytestmark = pytest.mark.django_db

LINKS = {
    "terms_url": "https://www.city.tottori.example.jp/terms.html",
    "privacy_url": "/312011/",
    "accessibility_url": "https://www.city.tottori.example.jp/a11y/",
    "contact_url": "https://www.city.tottori.example.jp/contact/",
}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class Page(HTMLParser):
    """What the tests read of a page: each element with an id (attributes and text), the footer's links."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self, text: str):
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self.footer_links: dict[str, str] = {}
        self._open: list[tuple[str, dict]] = []
        self._in_footer_nav = 0
        self._link: list | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        element = {"tag": tag, "attrs": attrs, "text": ""}
        if "id" in attrs:
            self.by_id[attrs["id"]] = element
        if "footer-nav" in (attrs.get("class") or "").split():
            self._in_footer_nav = 1
        if self._in_footer_nav and tag == "a":
            self._link = [attrs.get("href"), ""]
        if tag not in self.VOID:
            self._open.append((tag, element))

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.footer_links[self._link[1].strip()] = self._link[0]
            self._link = None
        if tag == "nav" and self._in_footer_nav:
            self._in_footer_nav = 0
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, element in self._open:
            element["text"] += data
        if self._link is not None:
            self._link[1] += data


def footer(response) -> dict[str, str]:
    """The footer's links as {label: href}."""
    assert response.status_code == 200, response.status_code
    return Page(response.content.decode()).footer_links


SYSTEM = {"利用規約": "/terms/", "個人情報の取扱い": "/privacy/", "アクセシビリティ": "/accessibility/"}


def test_an_organization_without_links_shows_this_systems_pages_and_its_contact_page(
    client, tottori, procedure
):
    expected = {**SYSTEM, "お問い合わせ": "/312011/contact/"}
    assert footer(client.get("/312011/")) == expected
    assert footer(client.get(reverse("public:form", args=["312011", procedure.pk]))) == expected
    # Pages of no organization (the home page, the statement itself) show the system's three.
    assert footer(client.get("/")) == SYSTEM
    assert footer(client.get("/accessibility/")) == SYSTEM


def test_an_organizations_own_links_replace_the_system_pages_on_its_pages_only(
    client, tottori, yonago, procedure
):
    Organization.objects.filter(pk=tottori.pk).update(**LINKS)
    assert footer(client.get(reverse("public:form", args=["312011", procedure.pk]))) == {
        "利用規約": LINKS["terms_url"],
        "個人情報の取扱い": "/312011/",
        "アクセシビリティ": LINKS["accessibility_url"],
        "お問い合わせ": LINKS["contact_url"],
    }
    assert footer(client.get("/312029/"))["利用規約"] == "/terms/"
    assert footer(client.get("/"))["利用規約"] == "/terms/"


def test_the_contact_page_shows_the_organizations_phone_and_address(client, tottori, yonago):
    Organization.objects.filter(pk=tottori.pk).update(
        contact_phone="0857-22-8111", contact_email="info@example.jp"
    )
    text = client.get("/312011/contact/").content.decode()
    assert "鳥取市へのお問い合わせ" in text
    assert 'href="tel:0857-22-8111"' in text and 'href="mailto:info@example.jp"' in text
    assert client.get("/312029/contact/").status_code == 200  # no contact stored: still a page
    assert client.get("/399999/contact/").status_code == 404


def test_the_statement_names_the_target_scope_tests_limits_and_contact(client, db):
    text = client.get("/accessibility/").content.decode()
    for words in (
        "JIS X 8341-3:2016",
        "適合レベルAA",
        "対象範囲",
        "axe-core",
        "キーボードだけ",
        "既知の制限",
        "お問い合わせ",
    ):
        assert words in text, words
    assert "利用規約" in client.get("/terms/").content.decode()
    assert "利用目的" in client.get("/privacy/").content.decode()


def test_the_statement_in_english_uses_the_english_page_language(client, db):
    client.post(reverse("set_language"), {"language": "en", "next": "/accessibility/"})
    assert '<html lang="en">' in client.get("/accessibility/").content.decode()


def test_the_admin_sets_the_links_and_the_change_is_audited(owner, tottori, client):
    staff = client_for(owner)
    assert (
        reverse("staff:organization_links", args=["312011"])
        in staff.get(reverse("staff:home")).content.decode()
    )
    url = reverse("staff:organization_links", args=["312011"])
    response = staff.post(url, {**LINKS, "privacy_url": "  /312011/  "})
    assert response.status_code == 302
    tottori.refresh_from_db()
    assert {name: getattr(tottori, name) for name in LINKS} == LINKS
    entry = AuditLog.objects.get(action="organization.footer_links")
    assert entry.actor_id == owner.pk and entry.detail["after"]["terms_url"] == LINKS["terms_url"]
    assert entry.detail["before"]["terms_url"] == ""
    # Saved again unchanged: nothing more is recorded; blanked: back to the system page.
    staff.post(url, LINKS)
    assert AuditLog.objects.filter(action="organization.footer_links").count() == 1
    staff.post(url, {**LINKS, "terms_url": ""})
    assert footer(client.get("/312011/"))["利用規約"] == "/terms/"
    audit_page = staff.get(reverse("staff:audit", args=["312011"])).content.decode()
    assert "住民向け画面の下部のリンクを変更しました" in audit_page


@pytest.mark.parametrize(
    "bad",
    [
        "http://www.city.tottori.example.jp/",
        "javascript:alert(1)",
        "//evil.example/",
        "/\\evil.example/",
        "www.city.tottori.example.jp",
        "https://",
        "https://www.example.jp/a b",
        "https://www.example.jp/\x00",
        "https://www.example.jp/\u202e",
        "https://www.example.jp/" + "a" * 300,
    ],
)
def test_a_link_that_is_not_https_or_of_this_site_is_refused_next_to_its_box(owner, tottori, bad):
    url = reverse("staff:organization_links", args=["312011"])
    response = client_for(owner).post(url, {**LINKS, "contact_url": bad})
    assert response.status_code == 400
    page = Page(response.content.decode())
    box = page.by_id["id_contact_url"]["attrs"]
    if "\x00" not in bad:
        assert box.get("value") == bad  # what was typed stays in the box
    error = page.by_id["id_contact_url-error"]["text"]
    assert "https://" in error or "文字" in error
    assert "id_contact_url-error" in box.get("aria-describedby").split()
    # Typed values of the other boxes are kept, nothing is saved.
    assert page.by_id["id_terms_url"]["attrs"].get("value") == LINKS["terms_url"]
    tottori.refresh_from_db()
    assert (
        tottori.contact_url == "" and not AuditLog.objects.filter(action="organization.footer_links").exists()
    )


def test_only_the_organizations_admin_may_change_its_links(colleague, outsider, tottori):
    url = reverse("staff:organization_links", args=["312011"])
    assert client_for(colleague).post(url, LINKS).status_code == 403
    assert client_for(outsider).post(url, LINKS).status_code == 404
    tottori.refresh_from_db()
    assert tottori.terms_url == ""


def test_the_django_admin_applies_the_same_rule(tottori):
    data = {
        field: value
        for field, value in OrganizationAdminForm(instance=tottori).initial.items()
        if value is not None and not isinstance(value, list)
    }
    form = OrganizationAdminForm({**data, "terms_url": "http://example.jp/"}, instance=tottori)
    assert not form.is_valid() and "https://" in form.errors["terms_url"][0]
    form = OrganizationAdminForm({**data, "terms_url": " https://example.jp/t "}, instance=tottori)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["terms_url"] == "https://example.jp/t"


LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
PATH_PART = st.text(alphabet="ABCXYZabcxyz0123456789._~%?=&#-", max_size=20)


@given(st.lists(LABEL, min_size=2, max_size=4), st.lists(PATH_PART, max_size=3))
def test_any_https_address_is_kept_as_typed(labels, parts):
    address = "https://" + ".".join(labels) + "".join("/" + part for part in parts)
    assert services.check_footer_link(address) == address


@given(PATH_PART.filter(lambda part: part[:1] not in ("", "/")), st.lists(PATH_PART, max_size=3))
def test_any_path_of_this_site_is_kept(first, parts):
    path = "/" + first + "".join("/" + part for part in parts)
    assert services.check_footer_link(path) == path


@given(
    st.text(
        alphabet=st.characters(codec="utf-8", categories=["Lu", "Ll", "Nd", "Po", "Sm", "Lo"]),
        min_size=0,
        max_size=40,
    ),
    st.sampled_from(["http://", "javascript:", "data:", "//", "ftp://", "", "mailto:", "HTTPS//", "/\\"]),
)
def test_anything_else_is_refused(rest, scheme):
    value = scheme + rest
    # blank (the system page) and a path of this site are tested above
    assume(value.strip() and not (value.startswith("/") and not value.startswith("//") and "\\" not in value))
    assume(not value.lower().startswith("https://"))
    with pytest.raises(services.FooterLinkError):
        services.check_footer_link(value)


@given(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp"]))
def test_a_space_or_an_invisible_character_inside_a_link_is_refused(character):
    with pytest.raises(services.FooterLinkError):
        services.check_footer_link("https://www.example.jp/a" + character + "b")
