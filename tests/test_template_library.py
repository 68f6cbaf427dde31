"""The bundled template library: loaded into a council, every template copies, publishes and opens for
residents, and survives a round trip through a file unchanged."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from madoguchi.procedures import portable, services
from madoguchi.procedures.library import library_documents, load_library
from madoguchi.procedures.models import Procedure, ProcedureTemplate

pytestmark = pytest.mark.django_db


def test_the_library_loads_into_the_council_once_however_often_it_is_loaded(council):
    count = load_library(council=council)
    assert count >= 30
    assert load_library(council=council) == count
    assert ProcedureTemplate.objects.filter(council=council).count() == count
    categories = set(ProcedureTemplate.objects.values_list("category", flat=True))
    assert len(categories) == 11


def test_the_command_names_an_unknown_council_in_japanese(council):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="登録されていません"):
        call_command("load_template_library", "どこにもない協議会")
    call_command("load_template_library", council.name)
    assert ProcedureTemplate.objects.filter(council=council).exists()


@pytest.mark.parametrize(("name", "document"), library_documents(), ids=[n for n, _ in library_documents()])
def test_every_template_is_copied_published_and_opened_by_a_resident(
    council, yonago, outsider, name, document
):
    template = services.save_library_template(council=council, document=document)
    procedure = services.copy_template(template=template, organization=yonago, actor=outsider)
    services.publish(procedure=procedure, actor=outsider)
    procedure.refresh_from_db()
    assert procedure.status == Procedure.Status.PUBLISHED
    page = Client().get(reverse("public:form", kwargs={"code": "312029", "procedure_id": procedure.pk}))
    assert page.status_code == 200
    assert document["form"]["fields"][-1]["label"] in page.content.decode()
    exported = services.export_procedure(procedure)
    exported["procedure"]["life_events"] = document["procedure"]["life_events"]
    exported["procedure"]["category"] = document["procedure"]["category"]
    assert exported == portable.normalized(portable.parse_definition(document))
