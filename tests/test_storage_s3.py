"""Attachments in an S3-compatible bucket, as several app nodes share them in production."""

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from moto import mock_aws

from madoguchi.lib import envelope
from madoguchi.settings import file_storage
from madoguchi.submissions.models import Attachment, StagedUpload
from tests.conftest import ALL_TYPES_SCHEMA, make_procedure
from tests.test_resident_flow import PNG, all_types_post, confirm_url, confirmed_form, post_form

pytestmark = pytest.mark.django_db
BUCKET = "madoguchi-attachments"


@pytest.fixture
def bucket(settings, monkeypatch):
    for name, value in {
        "FILE_STORAGE": "s3",
        "S3_BUCKET": BUCKET,
        "S3_REGION": "ap-northeast-1",
        "S3_ACCESS_KEY_ID": "test-key",
        "S3_SECRET_ACCESS_KEY": "test-secret",
        "S3_PREFIX": "madoguchi",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="ap-northeast-1")
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
        )
        settings.STORAGES = {**settings.STORAGES, "default": file_storage()}
        yield client


def keys(client) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_attachment_goes_to_the_bucket_and_staff_download_it(client, bucket, tottori, colleague):
    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("保険証.png", PNG, content_type="image/png")
    assert post_form(client, procedure, {**all_types_post(), "doc": upload}).status_code == 302
    client.post(confirm_url(procedure), confirmed_form(client, procedure))

    attachment = Attachment.objects.get()
    [key] = keys(bucket)
    assert key == f"madoguchi/uploads/{tottori.pk}/{attachment.storage_key}"  # never the resident's file name
    stored = bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert stored.startswith(envelope.FILE_MAGIC) and PNG[8:] not in stored  # encrypted in the bucket

    client.force_login(colleague)
    response = client.get(
        reverse(
            "staff:attachment",
            kwargs={"submission_id": attachment.submission_id, "attachment_id": attachment.pk},
        )
    )
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert response["Content-Disposition"].startswith("attachment;")


def test_abandoned_upload_is_removed_from_the_bucket(client, bucket, tottori):
    from datetime import timedelta

    from django.utils import timezone

    procedure = make_procedure(tottori, ALL_TYPES_SCHEMA, title="全項目")
    upload = SimpleUploadedFile("doc.pdf", b"%PDF-1.4\n" + b"0" * 100, content_type="application/pdf")
    post_form(client, procedure, {**all_types_post(), "doc": upload})
    assert len(keys(bucket)) == 1
    StagedUpload.objects.update(created_at=timezone.now() - timedelta(days=2))
    call_command("purge_staged_uploads")
    assert keys(bucket) == [] and not StagedUpload.objects.exists()
