"""保有個人情報の開示請求 and the 個人情報ファイル簿, for an organization's admin.

開示請求 (個人情報の保護に関する法律 第76条 and following): everything the organization holds about one
受付番号 or one e-mail address — the cases, their answers now and before each 補正, status history and
reasons, messages both ways, staff notes (marked: whether they are disclosed is the organization's decision,
法第78条), e-mails sent (subject and status; bodies are not kept once sent), attachments (listed; the files
come as the case ZIP), 一時保存 and who looked at or changed the case (the audit log). One JSON document,
times in JST.

個人情報ファイル簿 (法第75条): one row per procedure: the file's name, the organization and 所属 that hold it,
the purpose of use, the recorded items (the current version's questions), whose data, how it is collected,
the retention period and how many records are held now (cases not yet disposed of).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from madoguchi.lib.receipt import parse_receipt_number
from madoguchi.submissions.answers import read_answers, read_revision
from madoguchi.submissions.models import Submission, SubmissionDraft

MAX_EMAIL = 254
NO_ANSWER_TYPES = frozenset({"heading"})  # form parts that ask nothing


class DisclosureError(ValueError):
    """A request that cannot be looked up (nothing typed, or an address or number of the wrong shape)."""


def _jst(value) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def find(organization, query: str) -> tuple[str, QuerySet[Submission]]:
    """The organization's cases for a 受付番号 or an e-mail address, as typed (full-width, hyphens forgiven).
    Returns ("receipt"|"email", queryset). Raises DisclosureError with a Japanese message."""
    import unicodedata

    text = unicodedata.normalize("NFKC", (query or "").strip())
    if not text:
        raise DisclosureError("受付番号またはメールアドレスを入力してください。")
    if len(text) > MAX_EMAIL:
        raise DisclosureError("254文字以内で入力してください。")
    cases = Submission.objects.filter(organization=organization).exclude(status="draft")
    if "@" in text:
        return "email", cases.filter(applicant_email__iexact=text).order_by("submitted_at")
    number = parse_receipt_number(text)
    if number is None:
        raise DisclosureError("受付番号（例：2026-000123）またはメールアドレスの形で入力してください。")
    return "receipt", cases.filter(receipt_number=number)


def _answers(schema: dict, answers: dict[str, Any]) -> list[dict]:
    labels = {f.get("key"): f.get("label", "") for f in schema.get("fields", []) if isinstance(f, dict)}
    return [{"項目": labels.get(key, key), "キー": key, "回答": value} for key, value in answers.items()]


def document(organization, kind: str, cases: QuerySet[Submission], query: str) -> dict:
    """The 開示 document (JSON-ready) for the cases `find` returned."""
    from madoguchi.audit.models import AuditLog
    from madoguchi.audit.sentences import Line, render

    rows = list(
        cases.select_related("procedure", "form_version").prefetch_related(
            "history", "revisions", "attachments", "messages", "notes", "emails"
        )
    )
    out_cases = []
    for case in rows:
        schema = case.form_version.schema or {}
        audit = AuditLog.objects.filter(
            organization=organization, object_type="submissions.submission", object_id=str(case.pk)
        ).order_by("created_at")
        out_cases.append(
            {
                "受付番号": case.display_receipt_number,
                "手続": case.procedure.title,
                "到達日時": _jst(case.submitted_at),
                "状態": case.get_status_display(),
                "廃棄日時": _jst(case.disposed_at),
                "氏名": case.applicant_name,
                "ふりがな": case.applicant_kana,
                "メールアドレス": case.applicant_email,
                "回答": _answers(schema, read_answers(case)),
                "補正前の回答": [
                    {"置き換えた日時": _jst(r.replaced_at), "回答": _answers(schema, read_revision(r))}
                    for r in case.revisions.all()
                ],
                "状態の履歴": [
                    {
                        "日時": _jst(h.created_at),
                        "変更前": h.get_from_status_display() if h.from_status else "",
                        "変更後": h.get_to_status_display(),
                        "理由": h.reason,
                    }
                    for h in sorted(case.history.all(), key=lambda h: h.created_at)
                ],
                "メッセージ": [
                    {"日時": _jst(m.created_at), "向き": m.get_direction_display(), "本文": m.body}
                    for m in sorted(case.messages.all(), key=lambda m: m.created_at)
                ],
                "職員メモ（開示するかは団体が判断）": [
                    {"日時": _jst(n.created_at), "本文": n.body} for n in case.notes.all()
                ],
                "送信したメール": [
                    {
                        "作成日時": _jst(e.created_at),
                        "件名": e.display_subject,
                        "宛先": e.to,
                        "状態": e.get_status_display(),
                        "送信日時": _jst(e.sent_at),
                    }
                    for e in case.emails.all()
                ],
                "添付ファイル": [
                    {"項目キー": a.field_key, "ファイル名": a.original_name, "大きさ（バイト）": a.size}
                    for a in case.attachments.all()
                ],
                "閲覧・操作の記録": [
                    {
                        "日時": _jst(entry.created_at),
                        "内容": render(
                            Line(
                                action=entry.action,
                                actor=entry.actor_label,
                                object=case.display_receipt_number,
                                detail=entry.detail or {},
                            )
                        ),
                    }
                    for entry in audit
                ],
            }
        )
    drafts = []
    if kind == "email":
        for draft in SubmissionDraft.objects.filter(organization=organization, email__iexact=query.strip()):
            drafts.append({"手続": draft.procedure.title, "保存日時": _jst(draft.created_at)})
    return {
        "形式": "madoguchi-disclosure/1",
        "団体": organization.name,
        "請求の対象": {"receipt": "受付番号", "email": "メールアドレス"}[kind],
        "作成日時": _jst(timezone.now()),
        "申請": out_cases,
        "一時保存": drafts,
    }


def file_register(organization) -> list[dict]:
    """個人情報ファイル簿: one row per procedure of `organization` that has a published version."""
    from django.db.models import Count, Q

    from madoguchi.procedures.models import Procedure

    # The current (published) version comes with each procedure: one query for the whole register.
    procedures = (
        Procedure.objects.filter(organization=organization, current_version__isnull=False)
        .select_related("department", "current_version")
        .annotate(
            held=Count(
                "submissions",
                filter=Q(submissions__disposed_at__isnull=True) & ~Q(submissions__status="draft"),
            )
        )
        .order_by("title")
    )
    rows = []
    for procedure in procedures:
        version = procedure.current_version
        items = [
            f.get("label", "")
            for f in (version.schema or {}).get("fields", [])
            if isinstance(f, dict) and f.get("type") not in NO_ANSWER_TYPES
        ]
        rows.append(
            {
                "procedure": procedure,
                "ファイルの名称": f"{procedure.title} 申請データ",
                "保有する機関": " ".join(
                    p for p in (organization.name, getattr(procedure.department, "name", "")) if p
                ),
                "利用目的": procedure.purpose,
                "記録項目": "、".join(items),
                "記録範囲": "この手続を電子申請した者",
                "収集方法": "本人からの電子申請",
                "保存期間": procedure.get_retention_years_display(),
                "記録件数": procedure.held,
            }
        )
    return rows


REGISTER_COLUMNS = [
    "ファイルの名称",
    "保有する機関",
    "利用目的",
    "記録項目",
    "記録範囲",
    "収集方法",
    "保存期間",
    "記録件数",
]
