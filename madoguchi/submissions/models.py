from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from madoguchi.lib import envelope
from madoguchi.organizations.models import Organization
from madoguchi.procedures.models import FormVersion, Procedure


class Status(models.TextChoices):
    DRAFT = "draft", _("一時保存")
    RECEIVED = "received", _("処理待ち")
    IN_REVIEW = "in_review", _("処理中")
    RETURNED = "returned", _("返却中")
    COMPLETED = "completed", _("完了")
    REJECTED = "rejected", _("却下")
    WITHDRAWN = "withdrawn", _("取下げ")


class Submission(models.Model):
    # Every index is written by every submission: none is kept that another already covers. The two
    # foreign keys lead the inbox and count indexes below; the two unique keys are constraints, which
    # on PostgreSQL do not add the LIKE-pattern index a unique CharField would (nothing searches them so).
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="submissions", db_index=False
    )
    procedure = models.ForeignKey(
        Procedure, on_delete=models.PROTECT, related_name="submissions", db_index=False
    )
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="submissions")
    receipt_number = models.CharField(_("受付番号"), max_length=10)
    inquiry_code_hash = models.CharField(max_length=64)
    # The idempotency key of the final submit, hashed (lib/receipt.stored_token): a double click or a
    # retried POST finds this row again; the inquiry code is derived from it with INQUIRY_CODE_KEY.
    token = models.CharField(max_length=64)
    status = models.CharField(_("状態"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    submitted_at = models.DateTimeField(_("到達日時"), db_index=False)
    updated_at = models.DateTimeField(_("更新日時"), auto_now=True)
    # Read and written only through submissions.answers, the one place to add encryption at rest.
    answers_data = models.JSONField(default=dict)
    applicant_email = models.CharField(max_length=254, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The language the resident used (ja or en): their e-mails are written in it.
    language = models.CharField(max_length=8, default="ja")
    correction_deadline = models.DateField(_("補正期限"), null=True, blank=True)
    # Written with the answers by every write path (services.submit, single_statement, resubmit), from
    # lib/search.py: the name and kana as typed (shown in the inbox), and the folded search column.
    applicant_name = models.CharField(_("氏名"), max_length=200, blank=True, default="")
    applicant_kana = models.CharField(_("ふりがな"), max_length=200, blank=True, default="")
    search_text = models.TextField(blank=True, default="")
    # 重複申請 (Procedure.duplicate_rule): a hash of the verified e-mail or the chosen field's value; blank
    # where the procedure has no rule or the case no longer counts (取下げ, 却下…). Unique per procedure.
    duplicate_key = models.CharField(max_length=64, blank=True, default="")
    # 廃棄 (submissions/retention.py): when its answers, files, notes and messages were deleted after its
    # retention period, by an admin's approval. The row stays (受付番号, status, dates) so counts stay.
    disposed_at = models.DateTimeField(_("廃棄日時"), null=True, blank=True)

    class Meta:
        indexes = [
            # The inbox lists in arrival order with a (submitted_at, id) cursor, with or without a status
            # or a date range: each of these is one index range scan, at any depth, at any table size.
            models.Index(fields=["procedure", "-submitted_at", "-id"], name="sub_inbox"),
            models.Index(fields=["procedure", "status", "-submitted_at", "-id"], name="sub_inbox_status"),
            models.Index(fields=["organization", "procedure", "status"], name="sub_counts"),
            # 担当者 and 「自分の担当」: only assigned rows are in it, so a new submission (unassigned) never
            # writes it. The search column's trigram index is PostgreSQL's own (migration 0008_search).
            models.Index(
                fields=["procedure", "assignee", "-submitted_at", "-id"],
                name="sub_inbox_assignee",
                condition=models.Q(assignee__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["receipt_number"], name="submission_receipt_number_unique"),
            models.UniqueConstraint(fields=["token"], name="submission_token_unique"),
            models.UniqueConstraint(
                fields=["procedure", "duplicate_key"],
                name="submission_one_per_duplicate_key",
                condition=~models.Q(duplicate_key=""),
            ),
        ]
        verbose_name = verbose_name_plural = _("申請")

    def __str__(self) -> str:
        return self.display_receipt_number

    @property
    def display_receipt_number(self) -> str:
        from madoguchi.lib.receipt import format_receipt_number

        return format_receipt_number(self.receipt_number)


class StatusChange(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_kind = models.CharField(max_length=16, choices=[("resident", _("申請者")), ("staff", _("職員"))])
    reason = models.TextField(_("理由"), blank=True)
    created_at = models.DateTimeField(_("日時"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = verbose_name_plural = _("状態の履歴")

    @property
    def display_reason(self) -> str:
        """The reason as stored, except the one the system writes itself, which reads in the page's language."""
        from django.utils.translation import gettext

        from madoguchi.submissions.services import RESUBMIT_REASON

        return gettext(RESUBMIT_REASON) if self.reason == RESUBMIT_REASON else self.reason


class Note(models.Model):
    """Internal note by staff: never shown to the resident."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    # Encrypted with the organization's key (lib/envelope.encrypt_text); read and written as `body`.
    body_data = models.TextField(_("内容"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = verbose_name_plural = _("内部メモ")

    @property
    def body(self) -> str:
        return envelope.decrypt_text(self.organization_id, self.body_data, kind="note")

    @body.setter
    def body(self, text: str) -> None:
        self.body_data = envelope.encrypt_text(self.organization_id, text, kind="note")


def upload_path(instance, filename: str) -> str:
    # Never the resident's file name on disk: it may hold personal data and odd characters.
    return f"uploads/{instance.organization_id}/{instance.storage_key}"


class StagedUpload(models.Model):
    """A file the resident attached before the 確認画面; becomes an Attachment on submit."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="+")
    session_key_hash = models.CharField(max_length=64, db_index=True)
    storage_key = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=upload_path, max_length=200)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    # A PDF's active content found when it arrived (upload_checks.pdf_active_content), comma-separated kinds;
    # staff are warned before they open the file.
    active_content = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class Attachment(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="attachments")
    field_key = models.CharField(max_length=40)
    storage_key = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=upload_path, max_length=200)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    active_content = models.CharField(max_length=100, blank=True, default="")  # as StagedUpload's

    class Meta:
        verbose_name = verbose_name_plural = _("添付ファイル")


class AnswerRevision(models.Model):
    """The answers as they were before the resident corrected a returned submission (補正).

    Written and read only through submissions.answers, like the submission's own answers.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="revisions")
    answers_data = models.JSONField(default=dict)
    replaced_at = models.DateTimeField()

    class Meta:
        ordering = ["replaced_at", "id"]
        verbose_name = verbose_name_plural = _("補正前の回答")


def export_path(instance, filename: str) -> str:
    # A random key, never the procedure's title: the download gives the file its readable name.
    return f"exports/{instance.organization_id}/{instance.storage_key}.xlsx"


class ExportFile(models.Model):
    """A large .xlsx export, built by the worker and kept for staff to download for a few days.

    An Excel file is built whole before its first byte can be sent (about 5,000 rows a second); beyond
    a size no proxy would wait for, staff ask for it here and download it when it is ready.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("作成待ち")
        RUNNING = "running", _("作成中")
        DONE = "done", _("作成済み")
        FAILED = "failed", _("作成できませんでした")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="export_files")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    storage_key = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=export_path, max_length=200, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["procedure", "-created_at"], name="export_file_recent")]
        verbose_name = verbose_name_plural = _("出力ファイル")


def delete_stored_file(export: ExportFile) -> None:
    """Remove an export's file from storage, whether or not the row ever learnt its name (a worker may
    have stopped between storing the file and saving the row)."""
    storage = export.file.storage
    name = export.file.name or export_path(export, "")
    if storage.exists(name):
        storage.delete(name)


@receiver(post_delete, sender=ExportFile)
def _export_file_deleted(sender, instance: ExportFile, **kwargs) -> None:
    # Also when its procedure is deleted (cascade); only once the deletion is committed.
    transaction.on_commit(lambda: delete_stored_file(instance))


class SubmissionDraft(models.Model):
    """一時保存: what a resident typed into a form, kept so they can finish it later, on any device.

    Written and read only through submissions.drafts. The resume token is kept as its SHA-256 only: the
    raw token is in the e-mailed link (and, when the site was busy, on the resident's own page) and
    nowhere else. Files are not kept: the resident chooses them again. Deleted when the application is
    submitted, and by `manage.py purge_drafts` once `expires_at` (now + Procedure.draft_days) has passed.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="drafts")
    form_version = models.ForeignKey(FormVersion, on_delete=models.CASCADE, related_name="+")
    # drafts.stored_draft: {"token": the application's token hashed as Submission.token is, "format": 2,
    #  "enc": encrypted {"raw": what was typed (intake.read_raw's shape, files left out), "page": the page
    #  key, "token": the application's idempotency token itself, the same on every device}}
    answers_data = models.JSONField(default=dict)
    # The application's token hashed as Submission.token is (receipt.stored_token), as answers_data["token"]:
    # the final submit deletes the draft by it, through the index (a JSON look-up read every draft of the
    # procedure). Drafts saved before tokens were hashed hold the token itself; "" when none was kept.
    application_token = models.CharField(max_length=64, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True)
    email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["procedure", "application_token"], name="draft_application_token")]
        verbose_name = verbose_name_plural = _("一時保存")

    def __str__(self) -> str:
        return f"{self.procedure_id}:{self.pk}"


class DisposalList(models.Model):
    """廃棄の一覧: the cases of one organization whose retention period has ended, listed by the monthly job
    (`manage.py list_disposals`) for an admin to approve. Approving deletes their answers and files for good
    (submissions.retention.approve_disposal) and certifies it in the audit log."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("承認待ち")
        DISPOSED = "disposed", _("廃棄済み")
        CANCELLED = "cancelled", _("取消し")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    listed_on = models.DateField(_("作成日"))  # JST
    submission_ids = models.JSONField(default=list)
    count = models.PositiveIntegerField(_("件数"), default=0)
    state = models.CharField(_("状態"), max_length=16, choices=State.choices, default=State.PROPOSED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    disposed_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-listed_on", "-id"]
        verbose_name = verbose_name_plural = _("廃棄の一覧")


class RateCounter(models.Model):
    """An attempt counter of a fixed window, counted atomically in the database (submissions/counters.py):
    the status look-up's failures per client, per 受付番号 and client, and per 受付番号. Keys are hashes, never
    an address or a number in clear."""

    key = models.CharField(max_length=64, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)
