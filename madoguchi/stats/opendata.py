"""A council's counts as open data: CSV (UTF-8 with BOM) and JSON files at stable public URLs, and a DCAT
catalogue (JSON-LD, DCAT-AP style) that a CKAN portal with ckanext-dcat harvests.

Only counts, read from the rollups (stats/counts.py): no resident's data, no answer, no receipt number.
Small counts are published as they are: a count of submissions to a procedure is not information about a
person (it names no one and holds nothing anyone typed), so there is no suppression threshold; the page and
every dataset's description say so.

Datasets (identifier → files /opendata/<council id>/<identifier>.csv and .json):

- ``counts-<年度>``: submissions per member and procedure in the 年度 (procedures with at least one);
- ``organizations-<年度>``: submissions per member in the 年度, every member (0 included), with its share;
- ``procedures-online``: procedures each member has published now, by kind;
- ``indicators``: the council's own indicators (指標) per 年度: target, actual, achievement and the ◎○△×
  rating (stats/indicators.py), once the council has one. Members' own indicators are theirs to publish,
  not the council's, and are left out; so is who entered a value.

A 年度 is published once a member has a submission in it; the current 年度 grows day by day (its files say
through which JST day). Files are always Japanese, whatever language the visitor chose.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from madoguchi.audit import services as audit
from madoguchi.lib.exporting import SYSTEMS, clean_text, csv_stream
from madoguchi.lib.japanese import fiscal_year as fiscal_year_of
from madoguchi.lib.japanese import format_fiscal_year
from madoguchi.lib.timeutil import jst_date
from madoguchi.organizations.models import OPEN_DATA_LICENSE_URLS, Council, OpenDataLicense, Organization
from madoguchi.procedures.models import Procedure
from madoguchi.stats import counts, indicators
from madoguchi.stats.models import Indicator, IndicatorYear

MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}
IANA = "https://www.iana.org/assignments/media-types/"
FORMATS = {"csv": "CSV", "json": "JSON"}
JAPANESE = "http://publications.europa.eu/resource/authority/language/JPN"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


class OpenDataError(ValueError):
    """A change the council may not make; str() is the Japanese message."""


@dataclass(frozen=True)
class Column:
    key: str  # the JSON key
    title: str  # the CSV header (Japanese)


@dataclass
class Table:
    """One dataset's content: columns and rows (dicts keyed by Column.key; ints stay ints)."""

    columns: list[Column]
    rows: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Dataset:
    identifier: str  # counts-2026, organizations-2026, procedures-online
    title: str
    description: str
    keywords: tuple[str, ...]
    issued: date  # JST day the data first existed
    modified: date  # JST day the data last changed
    fiscal_year: int | None = None  # None: a count of now

    @property
    def period(self) -> tuple[date, date] | None:
        if self.fiscal_year is None:
            return None
        return date(self.fiscal_year, 4, 1), date(self.fiscal_year + 1, 3, 31)


def license_of(council: Council) -> dict[str, str]:
    """{"id": SPDX-style key, "name": Japanese name, "url": the licence's page} of the council's open data."""
    key = council.open_data_license or OpenDataLicense.CC_BY_4_0
    with translation.override("ja"):
        name = str(OpenDataLicense(key).label)
    return {"id": key, "name": name, "url": OPEN_DATA_LICENSE_URLS[OpenDataLicense(key)]}


@transaction.atomic
def set_open_data_license(*, council: Council, license: str, actor) -> Council:
    """Set the licence of the council's open data (a key of OpenDataLicense), audited on its secretariat.

    Raises OpenDataError (Japanese) for an unknown key. Returns the council; no change is not audited.
    """
    if license not in OpenDataLicense.values:
        raise OpenDataError(gettext("ライセンスを一覧から選んでください。"))
    council = Council.objects.select_for_update().get(pk=council.pk)
    old = council.open_data_license
    if old != license:
        council.open_data_license = license
        council.save(update_fields=["open_data_license"])
        audit.record(
            organization=council.secretariat,
            actor=actor,
            action="council.open_data_license",
            obj=council,
            detail={"old": old, "new": license},
        )
    return council


_SMALL_COUNTS = (
    "件数は申請等が到達した数（取下げを含み、補正後の再提出は含みません）です。申請者に関する情報は一切含みません。"
    "件数は個人に関する情報ではないため、少ない件数もそのまま公開しています。"
)


def datasets(council: Council) -> list[Dataset]:
    """The council's datasets, newest 年度 first, then procedures-online, then indicators (when the council
    has any). Each 年度's total from the council's monthly sums (counts.council_totals_by_fiscal_year), its
    first and last counted day from the two ends of the daily counts' index on the day: the same queries at
    10,000 or 10,000,000 submissions, plus one a 年度."""
    members = counts.council_members(council)
    years = []
    for year in sorted(counts.council_totals_by_fiscal_year(council.pk), reverse=True):
        first, last = counts.council_counted_days(council.pk, year)
        if first is not None:
            years.append({"fiscal_year": year, "first": first, "last": last})
    # The counts are the members' now: a member joining or leaving changes every 年度's files that day.
    changed = jst_date(council.members_changed_at) if council.members_changed_at else None

    def latest(day: date) -> date:
        return max(day, changed) if changed else day

    result = []
    with translation.override("ja"):
        for row in years:
            year, label = row["fiscal_year"], format_fiscal_year(row["fiscal_year"])
            ongoing = year >= fiscal_year_of(timezone.now())
            through = f"{row['last']:%Y-%m-%d}までの到達分（年度途中）。" if ongoing else ""
            result.append(
                Dataset(
                    identifier=f"counts-{year}",
                    title=f"{council.name} 電子申請の件数（団体別・手続別）{label}（{year}年度）",
                    description=(
                        f"{label}（{year}年4月1日から{year + 1}年3月31日まで、日本時間）に到達した電子申請・届出の"
                        f"件数を、構成団体と手続ごとに示します。{through}{_SMALL_COUNTS}"
                    ),
                    keywords=("電子申請", "行政手続のオンライン化", "件数", label),
                    issued=row["first"],
                    modified=latest(row["last"]),
                    fiscal_year=year,
                )
            )
            result.append(
                Dataset(
                    identifier=f"organizations-{year}",
                    title=f"{council.name} 電子申請の件数（団体別）{label}（{year}年度）",
                    description=(
                        f"{label}に到達した電子申請・届出の件数と構成比を、すべての構成団体について示します"
                        f"（件数0の団体を含みます）。{through}{_SMALL_COUNTS}"
                    ),
                    keywords=("電子申請", "行政手続のオンライン化", "件数", label),
                    issued=row["first"],
                    modified=latest(row["last"]),
                    fiscal_year=year,
                )
            )
        span = Procedure.objects.filter(organization_id__in=members).aggregate(
            first=Min("created_at"), last=Max("updated_at")
        )
        today = jst_date(timezone.now())
        result.append(
            Dataset(
                identifier="procedures-online",
                title=f"{council.name} オンラインで申請できる手続の数（団体別）",
                description=(
                    "構成団体ごとに、いま公開中（オンラインで申請等ができる状態）の手続の数を種類別に示します。"
                    "公開した手続の名称は各団体のページで確認できます。申請者に関する情報は一切含みません。"
                ),
                keywords=("電子申請", "行政手続のオンライン化", "オンライン化手続数"),
                issued=jst_date(span["first"]) if span["first"] else today,
                modified=latest(jst_date(span["last"])) if span["last"] else today,
            )
        )
        indicator_span = Indicator.objects.filter(council=council).aggregate(
            first=Min("created_at"), last=Max("updated_at")
        )
        if indicator_span["first"] is not None:
            entered = IndicatorYear.objects.filter(indicator__council=council).aggregate(
                target=Max("target_set_at"), actual=Max("actual_entered_at")
            )
            changes = [indicator_span["last"], entered["target"], entered["actual"]]
            last = jst_date(max(c for c in changes if c is not None))
            if result and result[0].fiscal_year is not None:
                # Counted actuals change with the counts: the newest 年度's last counted day.
                last = max(last, result[0].modified)
            result.append(
                Dataset(
                    identifier="indicators",
                    title=f"{council.name} 指標の目標値・実績値と進捗評価",
                    description=(
                        "協議会の指標（成果指標・活動指標など）ごとに、年度別の目標値、実績値、達成率と進捗評価"
                        "（◎予定以上・○予定通り・△やや遅れ・×大幅遅れ）を示します。実績値は、申請件数の指標では"
                        "電子申請の件数から数え、それ以外は事務局が入力した値です。達成率は小数第1位未満を切り捨てます。"
                        "申請者に関する情報は一切含みません。"
                    ),
                    keywords=("指標", "目標値", "実績値", "進捗評価", "電子申請"),
                    issued=jst_date(indicator_span["first"]),
                    modified=last,
                )
            )
    return result


def find_dataset(council: Council, identifier: str) -> Dataset | None:
    return next((d for d in datasets(council) if d.identifier == identifier), None)


def table(council: Council, dataset: Dataset) -> Table:
    """The content of one dataset (Japanese labels). Two queries (indicators: four, as stats.indicators reads them)."""
    with translation.override("ja"):
        if dataset.identifier == "procedures-online":
            return _procedures_online(council)
        if dataset.identifier == "indicators":
            return _indicators(council)
        if dataset.identifier.startswith("counts-"):
            return _counts(council, dataset.fiscal_year)
        return _organizations(council, dataset.fiscal_year)


def _counts(council: Council, year: int) -> Table:
    result = Table(
        [
            Column("fiscal_year", "年度"),
            Column("fiscal_year_name", "年度（和暦）"),
            Column("organization_code", "団体コード"),
            Column("organization_name", "団体名"),
            Column("procedure_id", "手続番号"),
            Column("procedure_title", "手続名"),
            Column("kind", "種類"),
            Column("department", "所属"),
            Column("count", "件数"),
        ]
    )
    label = format_fiscal_year(year)
    for p in counts.totals_by_procedure(counts.council_members(council), year):
        result.rows.append(
            {
                "fiscal_year": year,
                "fiscal_year_name": label,
                "organization_code": p.organization_code,
                "organization_name": p.organization_name,
                "procedure_id": p.procedure_id,
                "procedure_title": p.title,
                "kind": p.kind_label,
                "department": p.department,
                "count": p.count,
            }
        )
    return result


def _organizations(council: Council, year: int) -> Table:
    result = Table(
        [
            Column("fiscal_year", "年度"),
            Column("fiscal_year_name", "年度（和暦）"),
            Column("organization_code", "団体コード"),
            Column("organization_name", "団体名"),
            Column("count", "件数"),
            Column("share_percent", "構成比（%）"),
        ]
    )
    members = counts.council_members(council)
    found = counts.totals_by_organization(members, year)
    organizations = list(
        Organization.objects.filter(pk__in=members).order_by("code").only("pk", "code", "name")
    )
    total = sum(found.values())
    label = format_fiscal_year(year)
    for o in organizations:
        share = counts.percent(found.get(o.pk, 0), total)
        result.rows.append(
            {
                "fiscal_year": year,
                "fiscal_year_name": label,
                "organization_code": o.code,
                "organization_name": o.name,
                "count": found.get(o.pk, 0),
                "share_percent": None if share is None else float(share),
            }
        )
    return result


def _procedures_online(council: Council) -> Table:
    kinds = Procedure.Kind.choices
    result = Table(
        [
            Column("organization_code", "団体コード"),
            Column("organization_name", "団体名"),
            Column("published", "公開中の手続数"),
            *[Column(f"published_{kind}", f"うち{label}") for kind, label in kinds],
        ]
    )
    members = counts.council_members(council)
    by_kind = counts.published_procedures_by_kind(members)
    for o in Organization.objects.filter(pk__in=members).order_by("code").only("pk", "code", "name"):
        mine = by_kind.get(o.pk, {})
        row = {"organization_code": o.code, "organization_name": o.name, "published": sum(mine.values())}
        row |= {f"published_{kind}": mine.get(kind, 0) for kind, _ in kinds}
        result.rows.append(row)
    return result


def _number(value) -> int | float | None:
    """A Decimal value as JSON and CSV want it: an int when whole (42800), else a float (12.5)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _indicators(council: Council) -> Table:
    result = Table(
        [
            Column("indicator_id", "指標番号"),
            Column("name", "指標名"),
            Column("kind", "種別"),
            Column("unit", "単位"),
            Column("direction", "向き"),
            Column("fiscal_year", "年度"),
            Column("fiscal_year_name", "年度（和暦）"),
            Column("target", "目標値"),
            Column("actual", "実績値"),
            Column("actual_source", "実績値の出し方"),
            Column("achievement_percent", "達成率（%）"),
            Column("rating", "進捗評価"),
            Column("rating_label", "進捗評価（説明）"),
            Column("baseline", "基準値"),
            Column("baseline_when", "基準値の時点"),
            Column("long_term_target", "長期目標値"),
            Column("long_term_when", "長期目標の時点"),
            Column("source", "出典"),
        ]
    )
    thresholds = indicators.thresholds_for(council=council)
    listed = list(indicators.indicators_of(council=council))
    counted = indicators.counted_actuals(listed)
    for indicator in listed:
        for year in indicators.year_rows(indicator, thresholds, counted):
            ratio = year.rating.ratio_text.rstrip("%").replace(",", "")
            result.rows.append(
                {
                    "indicator_id": indicator.pk,
                    "name": indicator.name,
                    "kind": indicator.get_kind_display(),
                    "unit": indicator.unit,
                    "direction": indicator.get_direction_display(),
                    "fiscal_year": year.fiscal_year,
                    "fiscal_year_name": format_fiscal_year(year.fiscal_year),
                    "target": _number(year.target),
                    "actual": _number(year.actual),
                    "actual_source": indicator.get_actual_source_display(),
                    "achievement_percent": float(ratio) if ratio else None,
                    "rating": year.rating.mark,
                    "rating_label": year.rating.label,
                    "baseline": _number(indicator.baseline_value),
                    "baseline_when": indicator.baseline_when,
                    "long_term_target": _number(indicator.long_term_target),
                    "long_term_when": indicator.long_term_when,
                    "source": indicator.source,
                }
            )
    return result


def csv_bytes(data: Table) -> bytes:
    """The table as CSV: UTF-8 with a BOM (Excel reads it), CRLF, plain values (no Excel protection: this
    is data for programs; control characters are removed). An empty cell for None."""
    header = [c.title for c in data.columns]
    rows = ([row[c.key] if row[c.key] is not None else "" for c in data.columns] for row in data.rows)
    return codecs.BOM_UTF8 + b"".join(csv_stream(header, rows, purpose=SYSTEMS))


def json_bytes(council: Council, dataset: Dataset, data: Table) -> bytes:
    """{"dataset", "title", "publisher", "license": {id, name, url}, "fiscal_year", "modified",
    "columns": [{key, title}], "rows": [{key: value}]} as UTF-8 JSON (not ASCII-escaped); texts cleaned
    as in the CSV."""
    document = {
        "dataset": dataset.identifier,
        "title": dataset.title,
        "description": dataset.description,
        "publisher": council.name,
        "license": license_of(council),
        "fiscal_year": dataset.fiscal_year,
        "modified": dataset.modified.isoformat(),
        "columns": [{"key": c.key, "title": c.title} for c in data.columns],
        # The same text as the CSV: no control character, no lone surrogate (lib/exporting.clean_text).
        "rows": [
            {k: clean_text(v) if isinstance(v, str) else v for k, v in row.items()} for row in data.rows
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


def site_url(path: str) -> str:
    """An absolute URL on the installation's canonical address (settings.SITE_URL): identifiers in the
    catalogue stay the same whatever host name a request came by."""
    return settings.SITE_URL + path


def file_url(council: Council, dataset: Dataset, ext: str) -> str:
    return site_url(
        reverse(
            "public:opendata_file",
            kwargs={"council_id": council.pk, "dataset": dataset.identifier, "ext": ext},
        )
    )


def _date(value: date) -> dict:
    return {"@value": value.isoformat(), "@type": "xsd:date"}


def _ja(text: str) -> dict:
    return {"@value": text, "@language": "ja"}


def catalog(council: Council) -> dict:
    """The DCAT catalogue (JSON-LD, DCAT-AP style) of the council's datasets: a dcat:Catalog with its
    publisher, licence, language, homepage, issued/modified; each dcat:Dataset with identifier, title,
    description, keywords, publisher, contact point, temporal coverage, issued/modified and two
    dcat:Distribution (CSV, JSON) with accessURL, downloadURL, mediaType (IANA URI), format, licence,
    issued/modified. Five queries at most."""
    all_sets = datasets(council)
    licence = {"@id": license_of(council)["url"]}
    home = site_url(reverse("public:opendata", kwargs={"council_id": council.pk}))
    publisher = {"@id": home + "#publisher", "@type": "foaf:Organization", "foaf:name": council.name}
    secretariat = Organization.objects.only("name", "contact_email").get(pk=council.secretariat_id)
    contact = {"@type": "vcard:Organization", "vcard:fn": f"{council.name} 事務局（{secretariat.name}）"}
    if secretariat.contact_email:
        contact["vcard:hasEmail"] = {"@id": f"mailto:{secretariat.contact_email}"}
    entries = []
    for d in all_sets:
        entry = {
            "@id": home + "#" + d.identifier,
            "@type": "dcat:Dataset",
            "dct:identifier": d.identifier,
            "dct:title": _ja(d.title),
            "dct:description": _ja(d.description),
            "dcat:keyword": [_ja(k) for k in d.keywords],
            "dct:publisher": publisher,
            "dcat:contactPoint": contact,
            "dct:language": {"@id": JAPANESE},
            "dcat:landingPage": {"@id": home},
            "dct:accessRights": {
                "@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
            },
            "dct:issued": _date(d.issued),
            "dct:modified": _date(d.modified),
            "dcat:distribution": [
                {
                    "@id": file_url(council, d, ext),
                    "@type": "dcat:Distribution",
                    "dct:title": _ja(f"{d.title}（{FORMATS[ext]}）"),
                    "dcat:accessURL": {"@id": file_url(council, d, ext)},
                    "dcat:downloadURL": {"@id": file_url(council, d, ext)},
                    "dcat:mediaType": {"@id": IANA + MEDIA_TYPES[ext]},
                    "dct:format": FORMATS[ext],
                    "dct:license": licence,
                    "dct:issued": _date(d.issued),
                    "dct:modified": _date(d.modified),
                }
                for ext in ("csv", "json")
            ],
        }
        if d.period is not None:
            entry["dct:temporal"] = {
                "@type": "dct:PeriodOfTime",
                "dcat:startDate": _date(d.period[0]),
                "dcat:endDate": _date(d.period[1]),
            }
        entries.append(entry)
    return {
        "@context": CONTEXT,
        "@id": site_url(reverse("public:opendata_catalog", kwargs={"council_id": council.pk})),
        "@type": "dcat:Catalog",
        "dct:title": _ja(f"{council.name} オープンデータ（電子申請の件数）"),
        "dct:description": _ja(
            f"{council.name}が共同で運営する電子申請サービスの利用件数です。" + _SMALL_COUNTS
        ),
        "dct:publisher": publisher,
        "dct:language": {"@id": JAPANESE},
        "dct:license": licence,
        "foaf:homepage": {"@id": home},
        "dct:issued": _date(min(d.issued for d in all_sets)),
        "dct:modified": _date(max(d.modified for d in all_sets)),
        "dcat:dataset": entries,
    }


def catalog_bytes(council: Council) -> bytes:
    return json.dumps(catalog(council), ensure_ascii=False, indent=1).encode()
