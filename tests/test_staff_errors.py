"""Error pages: a 404 or 403 inside the staff area keeps the staff header and navigation; the public
pages stay as they were; neither ever becomes a 500.

Personas (tests/conftest.py): colleague = processor of 鳥取市, outsider = admin of 米子市.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi import errors

pytestmark = pytest.mark.django_db

STAFF_HEADER = "職員用"
STAFF_MENU = "職員メニュー"


def test_outsider_404_in_the_staff_area_keeps_the_staff_header(client, outsider, procedure):
    client.force_login(outsider)
    response = client.get(reverse("staff:inbox", kwargs={"procedure_id": procedure.pk}))
    page = response.content.decode()
    assert response.status_code == 404
    assert "ページが見つかりません" in page
    assert STAFF_HEADER in page and STAFF_MENU in page and "ログアウト" in page
    assert procedure.title not in page
    assert reverse("staff:home") in page


def test_unknown_staff_path_is_a_staff_404(client, colleague):
    client.force_login(colleague)
    response = client.get("/staff/no-such-page/")
    assert response.status_code == 404
    assert STAFF_MENU in response.content.decode()


def test_processor_403_on_an_admin_page_keeps_the_staff_header(client, colleague, tottori):
    client.force_login(colleague)
    response = client.get(reverse("staff:staff_list", kwargs={"code": tottori.code}))
    page = response.content.decode()
    assert response.status_code == 403
    assert "この操作はできません" in page and STAFF_MENU in page


def test_anonymous_staff_404_renders_without_the_menu(client):
    response = client.get("/staff/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert STAFF_HEADER in page and STAFF_MENU not in page


def test_public_404_and_403_stay_the_public_pages(client, colleague):
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "トップページ" in page and STAFF_HEADER not in page
    request = RequestFactory().get("/312011/")
    request.user = AnonymousUser()
    response = errors.forbidden(request, PermissionDenied())
    assert response.status_code == 403 and STAFF_HEADER not in response.content.decode()


def test_a_request_no_middleware_ran_on_still_gets_its_page():
    """No session, no user, no messages: as when a middleware fails before the view."""
    for path in ("/staff/procedures/1/", "/312011/x/"):
        request = RequestFactory().get(path)
        assert errors.not_found(request).status_code == 404
        assert errors.forbidden(request).status_code == 403


def test_a_page_that_cannot_render_falls_back_to_plain_text(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("template broken")

    monkeypatch.setattr(errors, "render_to_string", broken)
    response = errors.not_found(RequestFactory().get("/staff/x/"))
    assert response.status_code == 404 and "ページが見つかりません" in response.content.decode()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.text(max_size=200))
def test_any_staff_path_gives_a_404_never_a_500(client, tail):
    """Whatever follows /staff/x/ (control characters, surrogates, very long text) is a page, not a crash."""
    from urllib.parse import quote

    path = "/staff/x/" + quote(tail.encode("utf-8", "surrogatepass"), safe="")
    response = client.get(path)
    assert response.status_code == 404
