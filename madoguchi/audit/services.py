from typing import Any

from django.utils.translation import pgettext_lazy

from madoguchi.audit.models import AuditLog
from madoguchi.lib import integrity

ACTION_LABELS = {
    "submission.view": pgettext_lazy("audit action", "申請内容の閲覧"),
    "submission.transition": pgettext_lazy("audit action", "状態の変更"),
    "submission.note": pgettext_lazy("audit action", "内部メモの追加"),
    "submission.assign": pgettext_lazy("audit action", "担当者の変更"),
    "submission.attachment_download": pgettext_lazy("audit action", "添付ファイルのダウンロード"),
    "submission.export": pgettext_lazy("audit action", "申請データの出力"),
    "submission.export_request": pgettext_lazy("audit action", "出力ファイルの作成依頼"),
    "submission.export_download": pgettext_lazy("audit action", "出力ファイルのダウンロード"),
    "submission.withdraw": pgettext_lazy("audit action", "申請者による取下げ"),
    "submission.resubmit": pgettext_lazy("audit action", "申請者による再提出"),
    "staff.invite": pgettext_lazy("audit action", "職員の招待"),
    "staff.invite_resend": pgettext_lazy("audit action", "招待メールの再送"),
    "staff.role": pgettext_lazy("audit action", "職員の役割の変更"),
    "staff.departments": pgettext_lazy("audit action", "職員の所属の変更"),
    "staff.remove": pgettext_lazy("audit action", "職員の登録解除"),
    "staff.password_set": pgettext_lazy("audit action", "リンクからのパスワード設定"),
    "procedure.publish": pgettext_lazy("audit action", "手続の公開・版の作成"),
    "procedure.status": pgettext_lazy("audit action", "手続の状態変更"),
    "procedure.create": pgettext_lazy("audit action", "手続の作成"),
    "department.create": pgettext_lazy("audit action", "所属の追加"),
    "department.update": pgettext_lazy("audit action", "所属の変更"),
    "department.delete": pgettext_lazy("audit action", "所属の削除"),
    "procedure.settings": pgettext_lazy("audit action", "手続の設定の変更"),
    "procedure.draft": pgettext_lazy("audit action", "フォームの編集"),
    "procedure.discard": pgettext_lazy("audit action", "公開していない変更の取消し"),
    "procedure.import": pgettext_lazy("audit action", "ファイルからの手続の作成"),
    "procedure.share": pgettext_lazy("audit action", "ひな形としての共有"),
    "procedure.copy_template": pgettext_lazy("audit action", "ひな形からの手続の作成"),
    "procedure.distribute": pgettext_lazy("audit action", "市町村への配布"),
    "procedure.receive": pgettext_lazy("audit action", "県から配布された手続の受取り"),
    "procedure.accept_update": pgettext_lazy("audit action", "配布元の更新の取込み"),
    "procedure.ignore_update": pgettext_lazy("audit action", "配布元の更新の見送り"),
}


def record(*, organization, actor, action: str, obj, detail: dict[str, Any] | None = None) -> AuditLog:
    """Record one audit row. Callers run inside the transaction of the change they record."""
    if organization is not None and integrity.is_audited(obj):
        # An organization's audit page shows its entries' objects: never one of another organization.
        integrity.check_same_organization(organization, obj)
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_label = actor.get_username()
        actor_obj = actor
    else:
        # A resident's own action passes "申請者"; anything else without a user is the system (commands, demo).
        actor_label = actor if isinstance(actor, str) else "システム"
        actor_obj = None
    return AuditLog.objects.create(
        organization=organization,
        actor=actor_obj,
        actor_label=actor_label,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        detail=detail or {},
    )
