"""Public open-data pages of a council (no login): the list of datasets with their licence, the files and the
DCAT catalogue. Counts only (stats/opendata.py); every file answers conditional requests by its ETag."""

import hashlib
import re
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control

from madoguchi.organizations.models import Council
from madoguchi.stats import opendata

MAX_AGE = 3600  # seconds: the current 年度's files change with every submission; an hour old is fine
_IDENTIFIER = re.compile(r"(?:counts|organizations)-[0-9]{4}|procedures-online|indicators")


def _council(council_id: int) -> Council:
    # A council is public by its open data: its name, members and counts, nothing of a resident.
    return get_object_or_404(Council.objects.select_related("secretariat"), pk=council_id)


def _conditional(request: HttpRequest, body: bytes, content_type: str, filename: str = "") -> HttpResponse:
    """The body with a strong ETag (SHA-256 of the bytes) and public caching, or 304 when the client's
    If-None-Match names it."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    not_modified = get_conditional_response(request, etag=etag)
    response = not_modified or HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    if filename and not_modified is None:
        response["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    response["Access-Control-Allow-Origin"] = "*"  # open data: any portal's page may read it
    return response


def index(request: HttpRequest, council_id: int) -> HttpResponse:
    """The council's open data: each dataset with its period, last change, files and licence."""
    council = _council(council_id)
    entries = [
        {
            "dataset": d,
            "files": [
                (
                    opendata.FORMATS[ext],
                    reverse(
                        "public:opendata_file",
                        kwargs={"council_id": council.pk, "dataset": d.identifier, "ext": ext},
                    ),
                )
                for ext in ("csv", "json")
            ],
        }
        for d in opendata.datasets(council)
    ]
    return render(
        request,
        "opendata/index.html",
        {"council": council, "entries": entries, "license": opendata.license_of(council)},
    )


def catalog(request: HttpRequest, council_id: int) -> HttpResponse:
    """The DCAT catalogue as JSON-LD (application/ld+json), for harvesters such as ckanext-dcat."""
    council = _council(council_id)
    return _conditional(request, opendata.catalog_bytes(council), "application/ld+json; charset=utf-8")


def dataset_file(request: HttpRequest, council_id: int, dataset: str, ext: str) -> HttpResponse:
    """One dataset as CSV (UTF-8 with BOM) or JSON; 404 for a dataset the catalogue does not list."""
    if ext not in opendata.MEDIA_TYPES or not _IDENTIFIER.fullmatch(dataset):
        raise Http404
    council = _council(council_id)
    found = opendata.find_dataset(council, dataset)
    if found is None:
        raise Http404
    data = opendata.table(council, found)
    if ext == "csv":
        body = opendata.csv_bytes(data)
        content_type = "text/csv; charset=utf-8"
    else:
        body = opendata.json_bytes(council, found, data)
        content_type = "application/json; charset=utf-8"
    return _conditional(request, body, content_type, f"{dataset}.{ext}")
