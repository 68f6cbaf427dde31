"""Encryption at rest: answers, drafts, sessions, attachments and export files are stored encrypted with
each organization's data key, read back unchanged, bound to their organization, and rotated without loss."""

import io
import json
import os
import subprocess
import sys
import zipfile

import pytest
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.lib import envelope
from madoguchi.organizations.models import DataKey
from madoguchi.submissions import paper
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Attachment, Submission
from tests.conftest import SIGNUP_ANSWERS, SIGNUP_POST, make_procedure, make_submission
from tests.test_resident_flow import confirm_url, confirmed_form, post_form
from tests.test_upload_checks import PDF_SCHEMA, plain_pdf

pytestmark = pytest.mark.django_db

SECRET_PHONE = "0857-20-3111"  # in SIGNUP_ANSWERS: an answer kept nowhere in clear


@pytest.fixture(autouse=True)
def _fresh_keys():
    envelope.forget_cached_keys()
    yield
    envelope.forget_cached_keys()


def stored_text(table: str, column: str, pk) -> str:
    """The column exactly as the database holds it (what a backup would hold)."""
    with connection.cursor() as cursor:
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE id = %s", [pk])  # noqa: S608
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("orm_path", [False, True], ids=["single statement", "orm"])
def test_answers_are_stored_encrypted_on_every_submit_path_and_staff_read_them(
    client, colleague, procedure, orm_path
):
    submission = make_submission(procedure, orm_path=orm_path).submission
    text = stored_text("submissions_submission", "answers_data", submission.pk)
    assert SECRET_PHONE not in text and "﨑子" not in text and "午前" not in text
    assert read_answers(Submission.objects.get(pk=submission.pk))["phone"] == SECRET_PHONE
    client.force_login(colleague)
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert SECRET_PHONE in page and "﨑子" in page


def test_staff_notes_and_messages_are_stored_encrypted_and_read_as_typed(
    client, colleague, procedure, yonago
):
    from madoguchi.notifications import services as notify
    from madoguchi.notifications.models import Message
    from madoguchi.submissions import services
    from madoguchi.submissions.models import Note

    submission = make_submission(procedure).submission
    services.add_note(submission=submission, author=colleague, body="本人に電話：090-1234-5678（𠮷田）")
    notify.send_message(submission=submission, author=colleague, body="髙橋﨑子様\n会場は𠮷田公民館です。")
    note, message = Note.objects.get(), Message.objects.get()
    for table, pk in (("submissions_note", note.pk), ("notifications_message", message.pk)):
        text = stored_text(table, "body_data", pk)
        assert "090" not in text and "𠮷" not in text and "髙橋" not in text and text.startswith("e2:")
    assert note.body == "本人に電話：090-1234-5678（𠮷田）"
    assert message.body == "髙橋﨑子様\n会場は𠮷田公民館です。"
    client.force_login(colleague)
    page = client.get(reverse("staff:submission", kwargs={"submission_id": submission.pk})).content.decode()
    assert "090-1234-5678（𠮷田）" in page and "会場は𠮷田公民館です。" in page
    # Copied into another organization's row, it does not open.
    with pytest.raises(envelope.KeyUnavailable):
        envelope.decrypt_text(yonago.pk, note.body_data, kind="note")


def test_a_queued_email_is_stored_encrypted_sent_as_written_and_then_cleared(
    colleague, procedure, mailoutbox
):
    from madoguchi.notifications import services as notify
    from madoguchi.notifications.models import OutgoingEmail

    submission = make_submission(procedure).submission
    notify.send_message(submission=submission, author=colleague, body="髙橋﨑子様\n会場は𠮷田公民館です。")
    email = OutgoingEmail.objects.get(kind="message")
    text = stored_text("notifications_outgoingemail", "body_data", email.pk)
    assert text.startswith("e2:") and "𠮷田" not in text and "髙橋" not in text
    assert "会場は𠮷田公民館です。" in email.body
    from madoguchi.notifications.tasks import send_email

    assert send_email.call(email.pk) == "sent"
    sent = [m for m in mailoutbox if m.to == [email.to] and "𠮷田公民館" in m.body]
    assert len(sent) == 1
    assert stored_text("notifications_outgoingemail", "body_data", email.pk) == ""  # nothing kept once sent


def test_the_migration_encrypts_notes_and_messages_written_in_clear(colleague, procedure):
    import importlib

    from django.apps import apps

    from madoguchi.notifications import services as notify
    from madoguchi.notifications.models import Message
    from madoguchi.submissions import services
    from madoguchi.submissions.models import Note

    submission = make_submission(procedure).submission
    services.add_note(submission=submission, author=colleague, body="x")
    notify.send_message(submission=submission, author=colleague, body="y")
    Note.objects.update(body_data="電話済み（古い行）")
    Message.objects.update(body_data="お知らせ（古い行）")
    assert Note.objects.get().body == "電話済み（古い行）"  # a row in clear still reads
    importlib.import_module("madoguchi.submissions.migrations.0015_notes_encrypted").encrypt_notes(apps, None)
    importlib.import_module("madoguchi.notifications.migrations.0006_messages_encrypted").encrypt_messages(
        apps, None
    )
    assert Note.objects.get().body_data.startswith("e2:") and Note.objects.get().body == "電話済み（古い行）"
    assert (
        Message.objects.get().body_data.startswith("e2:")
        and Message.objects.get().body == "お知らせ（古い行）"
    )


def test_the_migration_encrypts_queued_email_bodies_kept_in_clear_and_leaves_empty_ones(colleague, procedure):
    import importlib

    from django.apps import apps

    from madoguchi.notifications import services as notify
    from madoguchi.notifications.models import OutgoingEmail

    submission = make_submission(procedure).submission  # its receipt: queued with no body
    notify.send_message(submission=submission, author=colleague, body="y")
    OutgoingEmail.objects.filter(kind="message").update(body_data="会場は公民館です（古い行）")
    assert OutgoingEmail.objects.get(kind="message").body == "会場は公民館です（古い行）"
    migration = importlib.import_module("madoguchi.notifications.migrations.0007_email_bodies_encrypted")
    migration.encrypt_bodies(apps, None)
    migration.encrypt_bodies(apps, None)  # restartable
    message = OutgoingEmail.objects.get(kind="message")
    assert message.body_data.startswith("e2:") and message.body == "会場は公民館です（古い行）"
    assert OutgoingEmail.objects.get(kind="receipt").body_data == ""


def test_answers_moved_into_another_organizations_row_do_not_open(procedure, yonago):
    mine = make_submission(procedure).submission
    theirs = make_submission(make_procedure(yonago)).submission
    Submission.objects.filter(pk=theirs.pk).update(
        answers_data=Submission.objects.get(pk=mine.pk).answers_data
    )
    with pytest.raises(envelope.KeyUnavailable):
        read_answers(Submission.objects.get(pk=theirs.pk))
    assert DataKey.objects.filter(organization__in=[procedure.organization, yonago]).count() == 2


def test_what_a_resident_is_typing_is_encrypted_in_the_session_table(client, procedure):
    response = post_form(client, procedure, SIGNUP_POST)
    assert response.status_code == 302
    rows = list(Session.objects.values_list("session_data", flat=True))
    assert rows and all("髙橋" not in row and "0857" not in row for row in rows)
    assert all(row.startswith("e2:") for row in rows)
    page = client.get(confirm_url(procedure)).content.decode()
    assert "髙橋" in page and "0857-20-3111" in page  # the 確認画面 reads it back


def test_a_session_row_that_does_not_decrypt_is_no_session(client, procedure):
    post_form(client, procedure, SIGNUP_POST)
    Session.objects.update(session_data="e2:AAAA")
    page = client.get(confirm_url(procedure), follow=True).content.decode()
    assert "髙橋" not in page  # a fresh start, not a 500


def pdf_procedure(organization):
    return make_procedure(organization, PDF_SCHEMA, title="書類の提出")


def submit_pdf(client, procedure, content: bytes) -> Submission:
    upload = SimpleUploadedFile("申請書.pdf", content, content_type="application/pdf")
    assert post_form(client, procedure, {"title": "申請", "doc": upload}).status_code == 302
    assert client.post(confirm_url(procedure), confirmed_form(client, procedure)).status_code == 302
    return Submission.objects.latest("pk")


def test_an_attachment_is_stored_encrypted_and_staff_download_the_original(client, colleague, tottori):
    procedure = pdf_procedure(tottori)
    original = plain_pdf()
    submission = submit_pdf(client, procedure, original)
    attachment = Attachment.objects.get(submission=submission)
    with default_storage.open(attachment.file.name, "rb") as stored:
        raw = stored.read()
    assert raw.startswith(envelope.FILE_MAGIC) and b"%PDF" not in raw and original[20:60] not in raw
    staff = client.__class__()
    staff.force_login(colleague)
    url = reverse("staff:attachment", kwargs={"submission_id": submission.pk, "attachment_id": attachment.pk})
    assert b"".join(staff.get(url).streaming_content) == original
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(paper.attachments_zip(Submission.objects.filter(pk=submission.pk))))
    )
    assert [archive.read(name) for name in archive.namelist()] == [original]


def test_a_large_file_streams_through_in_segments(tottori):
    content = os.urandom(3 * 1024 * 1024 + 17)  # beyond Tink's 1 MB segments, not a multiple of them
    with envelope.encrypted_file(tottori.pk, io.BytesIO(content)) as encrypted:
        name = default_storage.save(f"uploads/{tottori.pk}/large", ContentFile(encrypted.read()))
    with envelope.open_file(tottori.pk, default_storage, name) as plain:
        assert b"".join(plain) == content
    with default_storage.open(name, "rb") as stored:  # cut short: refused, never returned as if whole
        cut = default_storage.save(f"uploads/{tottori.pk}/cut", ContentFile(stored.read()[:-100]))
    with (
        pytest.raises(envelope.KeyUnavailable),
        envelope.open_file(tottori.pk, default_storage, cut) as plain,
    ):
        b"".join(plain)


def test_a_file_of_one_organization_does_not_open_as_anothers(tottori, yonago):
    with envelope.encrypted_file(tottori.pk, io.BytesIO(b"%PDF-1.4 secret")) as encrypted:
        name = default_storage.save("uploads/x", ContentFile(encrypted.read()))
    with (
        pytest.raises(envelope.KeyUnavailable),
        envelope.open_file(yonago.pk, default_storage, name) as plain,
    ):
        plain.read()


def test_an_export_file_is_stored_encrypted(procedure):
    from madoguchi.submissions import exports
    from madoguchi.submissions.models import ExportFile

    make_submission(procedure)
    export = ExportFile.objects.create(
        organization=procedure.organization, procedure=procedure, storage_key="k1"
    )
    assert exports.build_file(export) == 1
    with default_storage.open(export.file.name, "rb") as stored:
        assert stored.read(len(envelope.FILE_MAGIC)) == envelope.FILE_MAGIC  # not a readable .xlsx (PK…)
    with envelope.open_file(procedure.organization_id, default_storage, export.file.name) as plain:
        assert plain.read(2) == b"PK"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_any_answer_reads_back_exactly_and_only_for_its_organization_and_kind(tottori, yonago, value):
    stored = envelope.encrypt_json(tottori.pk, value)
    assert envelope.decrypt_json(tottori.pk, json.loads(json.dumps(stored))) == value
    for organization_id, kind in ((yonago.pk, "answers"), (tottori.pk, "draft")):
        with pytest.raises(envelope.KeyUnavailable):
            envelope.decrypt_json(organization_id, stored, kind=kind)


def test_rotation_keeps_everything_readable_and_moves_it_to_the_new_keys(
    client, colleague, tottori, settings
):
    procedure = pdf_procedure(tottori)
    pdf = plain_pdf()  # made once: the generator stamps the time into it
    before = submit_pdf(client.__class__(), procedure, pdf)
    from madoguchi.submissions import services
    from madoguchi.submissions.models import Note

    services.add_note(submission=before, author=colleague, body="回転前のメモ")
    # A case and a file stored before encryption existed.
    legacy = make_submission(make_procedure(tottori), SIGNUP_ANSWERS).submission
    Submission.objects.filter(pk=legacy.pk).update(answers_data={"format": 1, "answers": SIGNUP_ANSWERS})
    legacy_file = default_storage.save(f"uploads/{tottori.pk}/legacy", ContentFile(b"%PDF-1.4 old"))
    legacy_attachment = Attachment.objects.create(
        organization=tottori, submission=legacy, field_key="doc", storage_key="legacy", file=legacy_file,
        original_name="古い.pdf", content_type="application/pdf", size=12,
    )  # fmt: skip
    old_primary = envelope.keys_for(tottori.pk).aead_primary

    call_command("rotate_keys", "--new-data-keys", stdout=io.StringIO())
    after = submit_pdf(client.__class__(), procedure, pdf)
    keys = envelope.keys_for(tottori.pk)
    assert keys.aead_primary != old_primary and len(keys.aead_ids) == 2
    assert envelope.answers_key_id(Submission.objects.get(pk=after.pk).answers_data) == keys.aead_primary
    assert envelope.answers_key_id(Submission.objects.get(pk=before.pk).answers_data) == old_primary
    assert read_answers(Submission.objects.get(pk=before.pk))["title"] == "申請"

    out = io.StringIO()
    call_command("rotate_keys", "--reencrypt", stdout=out)
    assert "submissions: 2" in out.getvalue()  # the one under the old key and the one in clear
    assert "notes: 1" in out.getvalue()
    assert envelope.text_key_id(Note.objects.get().body_data) == envelope.keys_for(tottori.pk).aead_primary
    assert Note.objects.get().body == "回転前のメモ"
    for case in Submission.objects.all():
        assert envelope.answers_key_id(case.answers_data) == keys.aead_primary
    assert read_answers(Submission.objects.get(pk=legacy.pk)) == SIGNUP_ANSWERS
    legacy_attachment.refresh_from_db()
    assert legacy_attachment.file.name != legacy_file and not default_storage.exists(legacy_file)
    assert envelope.file_key_id(default_storage, legacy_attachment.file.name) == keys.streaming_primary
    staff = client.__class__()
    staff.force_login(colleague)
    for attachment in Attachment.objects.all():
        url = reverse(
            "staff:attachment",
            kwargs={"submission_id": attachment.submission_id, "attachment_id": attachment.pk},
        )
        body = b"".join(staff.get(url).streaming_content)
        assert body == (b"%PDF-1.4 old" if attachment.pk == legacy_attachment.pk else pdf)
    out = io.StringIO()
    call_command("rotate_keys", "--reencrypt", stdout=out)
    assert "計0件" in out.getvalue()  # nothing left to do: safe to repeat

    # The master key: a new primary beside the old one, rewrap, then the old one dropped.
    first_master = envelope.DEV_MASTER_KEYSET
    settings.MASTER_KEYSET = envelope.new_master_keyset(first_master)
    envelope.forget_cached_keys()
    out = io.StringIO()
    call_command("rotate_keys", "--rewrap", stdout=out)
    assert "データ鍵 " in out.getvalue()
    new_primary = envelope.master_primary_id()
    assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {new_primary}
    settings.MASTER_KEYSET = envelope.only_primary(settings.MASTER_KEYSET)
    envelope.forget_cached_keys()
    assert read_answers(Submission.objects.get(pk=before.pk))["title"] == "申請"
    settings.MASTER_KEYSET = first_master  # the retired master key alone opens nothing any more
    envelope.forget_cached_keys()
    with pytest.raises(envelope.KeyUnavailable):
        read_answers(Submission.objects.get(pk=before.pk))


def test_production_refuses_to_start_without_a_master_keyset():
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "MADOGUCHI_INSECURE_DEV_KEY", "MADOGUCHI_MASTER_KEYSET"}
    }
    env.update(SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="madoguchi.settings")
    check = [sys.executable, "-c", "import django; django.setup()"]
    result = subprocess.run(check, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0 and "MADOGUCHI_MASTER_KEYSET must be set" in result.stderr
    made = subprocess.run(
        [sys.executable, "manage.py", "master_keyset"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    env["MADOGUCHI_MASTER_KEYSET"] = made.stdout.strip()
    result = subprocess.run(check, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_a_keyset_made_in_a_transaction_that_rolls_back_is_never_used_again(tottori):
    """Nothing may be encrypted with a key whose row is gone: a keyset made inside a transaction (here a
    savepoint) serves that transaction while it lives, and is forgotten when it rolls back."""
    from django.db import transaction

    from madoguchi.organizations.models import DataKey

    class Undo(Exception):
        pass

    made = None
    try:
        with transaction.atomic():
            made = envelope.keys_for(tottori.pk)
            assert envelope.keys_for(tottori.pk) is made  # the same transaction keeps using it
            raise Undo
    except Undo:
        pass
    assert not DataKey.objects.filter(scope=str(tottori.pk)).exists()
    again = envelope.keys_for(tottori.pk)
    assert again is not made and again.aead_primary != made.aead_primary
    stored = envelope.encrypt_json(tottori.pk, {"a": 1})
    envelope.forget_cached_keys()
    assert envelope.decrypt_json(tottori.pk, stored) == {"a": 1}  # its key is the one in the database
