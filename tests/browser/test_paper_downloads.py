"""A clerk on the case page of a corrected application: both files told apart, and the 決裁用 PDF and the
ZIP downloaded by the browser itself under their Japanese names (no JavaScript involved)."""

import io
import zipfile

import pytest
from django.core.management import call_command

from madoguchi.organizations.models import Organization
from tests.browser.test_resident_and_staff import staff_login
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure
from tests.test_paper import correct_with_new_file, pdf_text, submit_with_file

pytestmark = pytest.mark.browser


def test_a_clerk_downloads_the_approval_pdf_and_the_files_of_a_corrected_case(
    transactional_db, live_server, browser, browser_context_args
):
    call_command("load_demo", verbosity=0)
    from django.contrib.auth import get_user_model

    clerk = get_user_model().objects.get(username="tottori-staff")
    procedure = make_procedure(
        Organization.objects.get(code="312011"),
        ALL_TYPES_SCHEMA,
        title="住民票の写しの郵送請求（試験）",
        kind="application",
    )
    submission = correct_with_new_file(submit_with_file(procedure), clerk)
    receipt = submission.display_receipt_number

    context = browser.new_context(**{**browser_context_args, "java_script_enabled": False})
    page = staff_login(context, live_server, "tottori-staff")
    page.goto(f"{live_server.url}/staff/submissions/{submission.pk}/")
    files = page.get_by_test_id("case-files")
    assert "補正前" in files.inner_text() and "補正後" in files.inner_text()

    with page.expect_download() as caught:
        page.get_by_test_id("case-pdf").click()
    download = caught.value
    assert download.suggested_filename == f"決裁用_{receipt}.pdf"
    text = pdf_text(open(download.path(), "rb").read())
    assert "髙橋" in text and "﨑子" in text and receipt in text

    with page.expect_download() as caught:
        page.get_by_test_id("files-zip").click()
    download = caught.value
    assert download.suggested_filename == f"添付ファイル_{receipt}.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    assert sorted(archive.namelist()) == [
        f"{receipt}/書類/住民票の写し.pdf",
        f"{receipt}/書類（補正前）/住民票の写し.pdf",
    ]
    context.close()
