"""Public read-only API, version 1. The OpenAPI document is generated from these declarations."""

from datetime import datetime

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
    if not (code.isascii() and code.isdigit() and len(code) == 6):  # 団体コード: six digits, nothing else
        return Status(404, {"detail": "団体が見つかりません"})
    organization = get_object_or_404(Organization, code=code, is_active=True)
    procedures = Procedure.objects.filter(
        organization=organization, status=Procedure.Status.PUBLISHED, current_version__isnull=False
    ).select_related("organization")
    return [_procedure_out(p) for p in procedures]


class PostalTownOut(Schema):
    prefecture: str
    city: str
    town: str  # "" where the code names no 町域 (the resident types it)
    address: str


class PostalCodeOut(Schema):
    postal_code: str
    address: str  # the one address of a code that names one; "" where the resident must choose
    alternatives: list[str]  # every address of a code that names several (nothing is guessed)
    candidates: list[PostalTownOut]


@api.get(
    "/v1/postal-codes/{code}",
    response={200: PostalCodeOut, 404: ErrorOut},
    tags=["public"],
    summary="郵便番号から住所を引く",
    description="町域が複数ある番号は、候補の一覧だけを返します（どれかを選ぶのは住民です）。"
    "「以下に掲載がない場合」などの日本郵便のデータ上の注記は、住所に含めません（madoguchi.lib.postal）。",
)
def postal_code(request, code: str):
    from madoguchi.lib import postal
    from madoguchi.lib.japanese import InputError, normalize_postal_code

    try:
        found = postal.candidates(code)
    except (InputError, KeyError):
        return Status(404, {"detail": "郵便番号が見つかりません"})
    addresses = [c.address for c in found]
    return {
        "postal_code": normalize_postal_code(code),
        "address": addresses[0] if len(addresses) == 1 else "",
        "alternatives": addresses if len(addresses) > 1 else [],
        "candidates": [
            {"prefecture": c.prefecture, "city": c.city, "town": c.town, "address": c.address} for c in found
        ],
    }
