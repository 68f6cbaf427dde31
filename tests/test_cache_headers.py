"""Nothing a member of staff saw stays in a shared PC's browser cache: every staff page, every download and
the operator's admin are sent with Cache-Control: no-store; logging out clears the site's cache."""

import pytest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from tests.test_isolation import STAFF_URLS, objects  # noqa: F401 (the fixture builds one of each object)

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("name", sorted(n for n, (method, _) in STAFF_URLS.items() if method == "get"))
def test_every_staff_page_and_download_is_not_stored(client, owner, objects, name):  # noqa: F811
    _, kwargs = STAFF_URLS[name]
    client.force_login(owner)
    response = client.get(reverse(f"staff:{name}", kwargs=kwargs(objects)))
    assert response.status_code in (200, 302, 404), name
    assert _no_store(response), (name, response.get("Cache-Control"))
    assert not response.has_header("ETag") and not response.has_header("Last-Modified")


def test_a_download_is_not_stored_and_says_so_in_its_headers(client, owner, objects):  # noqa: F811
    client.force_login(owner)
    response = client.get(reverse("staff:export_csv", kwargs={"procedure_id": objects["procedure"].pk}))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert _no_store(response)


def test_the_staff_login_page_the_admin_and_the_staff_home_are_not_stored(client, owner):
    assert _no_store(client.get(reverse("staff:login")))
    client.force_login(owner)
    assert _no_store(client.get(reverse("staff:home")))
    admin = client.get("/admin/")
    assert admin.status_code in (200, 302) and _no_store(admin)


def test_logging_out_asks_the_browser_to_drop_its_cache(client, owner):
    client.force_login(owner)
    response = client.post(reverse("staff:logout"))
    assert response.status_code == 302
    assert '"cache"' in response["Clear-Site-Data"]
    assert _no_store(response)


def test_a_residents_public_page_may_be_cached_and_a_page_that_showed_the_login_may_not(
    client, owner, procedure
):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from madoguchi.security import PrivateResponsesMiddleware

    url = reverse("public:organization", kwargs={"code": procedure.organization.code})
    assert not _no_store(client.get(url))  # the list of procedures holds nothing personal
    client.force_login(owner)
    # The same list for a logged-in member: nothing on it depends on who is logged in, and no session is read
    assert not _no_store(client.get(url))
    # A page that read who is logged in (to show it, say) is theirs: not stored
    client.get(reverse("staff:home"))  # (and the staff area always is)
    request = RequestFactory().get(url)
    request.user = SimpleLazyObject(lambda: owner)
    shows_login = PrivateResponsesMiddleware(lambda r: HttpResponse(r.user.username))
    assert _no_store(shows_login(request))
    request = RequestFactory().get(url)
    request.user = SimpleLazyObject(lambda: owner)
    assert not _no_store(PrivateResponsesMiddleware(lambda r: HttpResponse("公開の一覧"))(request))
