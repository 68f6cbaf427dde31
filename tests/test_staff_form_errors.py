"""A staff form's error is read with its box: the input's aria-describedby names the error text shown next to it
(and its help text), and only ids that are on the page."""

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_an_error_on_a_staff_form_is_linked_to_its_box(owner, tottori):
    client = Client()
    client.force_login(owner)
    response = client.post(reverse("staff:departments", args=["312011"]), {"name": "", "phone": "12"})
    assert response.status_code == 400
    page = response.content.decode()
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    name_box = re.search(r'<input[^>]*name="name"[^>]*>', page).group(0)
    phone_box = re.search(r'<input[^>]*name="phone"[^>]*>', page).group(0)
    assert 'aria-describedby="id_name-error"' in name_box and 'aria-invalid="true"' in name_box
    assert 'aria-describedby="id_phone_helptext id_phone-error"' in phone_box
    for box in (name_box, phone_box):
        described = re.search(r'aria-describedby="([^"]+)"', box).group(1).split()
        assert set(described) <= ids, described
    # Without errors, the help text alone.
    page = client.get(reverse("staff:departments", args=["312011"])).content.decode()
    assert 'aria-describedby="id_phone_helptext"' in re.search(r'<input[^>]*name="phone"[^>]*>', page).group(
        0
    )
