"""Content-Security-Policy violation reports (#11 point 10): collected at /csp-report/ in both formats browsers
send, logged with the page's path, the directive and what was blocked, never a query string; never a 500."""

import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db


def test_a_report_uri_report_is_logged_without_its_query(client, caplog):
    report = {
        "csp-report": {
            "document-uri": "https://madoguchi.example.jp/staff/submissions/12/?q=髙橋",
            "effective-directive": "script-src-elem",
            "blocked-uri": "https://evil.example/x.js?token=secret",
            "script-sample": "alert(document.cookie)",
        }
    }
    with caplog.at_level(logging.WARNING, logger="madoguchi.csp"):
        response = client.post("/csp-report/", json.dumps(report), content_type="application/csp-report")
    assert response.status_code == 204
    (record,) = [r for r in caplog.records if r.name == "madoguchi.csp"]
    text = record.getMessage()
    assert (
        "/staff/submissions/12/" in text and "script-src-elem" in text and "https://evil.example/x.js" in text
    )
    assert "髙橋" not in text and "secret" not in text and "cookie" not in text


def test_a_reporting_api_report_is_logged(client, caplog):
    reports = [
        {
            "type": "csp-violation",
            "body": {"documentURL": "https://madoguchi.example.jp/admin/", "effectiveDirective": "style-src-attr",
                     "blockedURL": "inline"},
        }
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="madoguchi.csp"):
        response = client.post("/csp-report/", json.dumps(reports), content_type="application/reports+json")
    assert response.status_code == 204
    assert any("style-src-attr" in r.getMessage() and "inline" in r.getMessage() for r in caplog.records)


def test_a_report_cannot_forge_log_lines(client, caplog):
    report = {"csp-report": {"document-uri": "https://x.example/a\nFORGED entry", "blocked-uri": "inline\r\nFORGED",
                             "effective-directive": "script-src\nFORGED"}}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="madoguchi.csp"):
        client.post("/csp-report/", json.dumps(report), content_type="application/csp-report")
    (record,) = [r for r in caplog.records if r.name == "madoguchi.csp"]
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()


def test_only_a_post_and_a_small_one_is_read(client, caplog):
    assert client.get("/csp-report/").status_code == 405
    big = json.dumps({"csp-report": {"document-uri": "x" * 20_000}})
    with caplog.at_level(logging.WARNING, logger="madoguchi.csp"):
        assert client.post("/csp-report/", big, content_type="application/csp-report").status_code == 204
    assert not [r for r in caplog.records if r.name == "madoguchi.csp"]


JSON = st.recursive(
    st.none() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(body=st.one_of(st.binary(max_size=300), JSON.map(lambda v: json.dumps(v).encode())))
def test_any_body_gets_204_never_a_500(body):
    from django.test import Client

    assert Client().post("/csp-report/", body, content_type="application/csp-report").status_code == 204
