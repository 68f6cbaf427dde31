"""Audit entries as sentences people can read: 「山田 太郎 が 受付番号 4821-0395-76 の状態を「処理待ち」から「処理中」
に変更しました」.

Adding an action is one entry in ACTIONS (written out in full, so makemessages finds both texts): its short name (for the
filter of the audit page) and its sentence, either a format string or a function:

    "submission.message": (
        pgettext_lazy("audit action", "申請者へのメッセージ"),
        pgettext_lazy("audit sentence", "{actor} が 受付番号 {object} に返信しました"),
    ),
    "procedure.export": (pgettext_lazy("audit action", "手続のファイル出力"), _exported),  # def _exported(line)

In a format string, {actor} is who did it (a staff member's name, 申請者 or システム), {object} what it was done
to (a submission's 受付番号, a procedure's title, a staff member's name and address, a 所属's name…), and
every key of the entry's detail is there by its name, shown readably (see `readable`: a status or a role by
its Japanese name, a list joined with 、, True/False as はい/いいえ, an empty value as なし). A placeholder the
detail lacks shows as ―, never an error. A function gets the whole `Line` and returns the sentence.

An action with no line here (one added elsewhere and not yet here) still reads as a sentence: its name from
services.ACTION_LABELS if it has one, and the detail's values, never its keys.

All texts are Japanese source strings (pgettext "audit sentence" / "audit action"); the page shows them in
its language. Shapes: `render(entry, object_label) -> str`; nothing here touches the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext, pgettext, pgettext_lazy

logger = logging.getLogger(__name__)


MAX_VALUE_LENGTH = 200  # a value longer than this is cut, with …
# Numbers that are names, not amounts: shown as stored (2026年度, 第3版), never as 2,026.
PLAIN_KEYS = frozenset({"fiscal_year", "version", "year", "number"})


@dataclass
class Line:
    """What a renderer reads: the entry's action, who (actor), what (object) and its detail (as stored)."""

    action: str
    actor: str
    object: str
    detail: dict[str, Any] = field(default_factory=dict)

    def values(self) -> _Values:
        values = _Values(
            {key: str(value) if key in PLAIN_KEYS else readable(value) for key, value in self.detail.items()}
        )
        values["actor"], values["object"] = self.actor, self.object
        return values


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return "―"


def _status_label(value) -> str | None:
    from madoguchi.submissions.models import Status

    return str(Status(value).label) if value in Status.values else None


def _procedure_status_label(value) -> str | None:
    from madoguchi.procedures.models import Procedure

    return str(Procedure.Status(value).label) if value in Procedure.Status.values else None


def _role_label(value) -> str | None:
    from madoguchi.accounts.models import Role

    return str(Role(value).label) if value in Role.values else None


def readable(value) -> str:
    """A stored detail value as text: None and "" → なし, booleans → はい/いいえ, lists joined with 、,
    a dict's values joined with 、 (never its keys), anything else as str, cut at MAX_VALUE_LENGTH."""
    if value is None or value == "" or value == [] or value == {}:
        text = pgettext("audit value", "なし")
    elif isinstance(value, bool):
        text = pgettext("audit value", "はい") if value else pgettext("audit value", "いいえ")
    elif isinstance(value, list | tuple):
        text = "、".join(readable(v) for v in value)
    elif isinstance(value, dict):
        text = "、".join(readable(v) for v in value.values())
    elif isinstance(value, int | float):
        text = f"{value:,}"
    else:
        text = str(value)
    if len(text) > MAX_VALUE_LENGTH:
        text = text[: MAX_VALUE_LENGTH - 1] + "…"
    return text


# Renderers that read the detail ------------------------------------------------------------------


def _moved(text) -> Callable[[Line], str]:
    """A sentence about a submission's status: {from} and {to} by their Japanese names."""

    def render(line: Line) -> str:
        values = line.values()
        for key in ("from", "to"):
            label = _status_label(line.detail.get(key))
            if label:
                values[key] = label
        return str(text).format_map(values)

    return render


def _procedure_status(line: Line) -> str:
    values = line.values()
    for key in ("from", "to"):
        label = _procedure_status_label(line.detail.get(key))
        if label:
            values[key] = label
    return str(
        pgettext_lazy(
            "audit sentence", "{actor} が 手続「{object}」の状態を「{from}」から「{to}」に変更しました"
        )
    ).format_map(values)


def _two_factor_policy(line: Line) -> str:
    if line.detail.get("required"):
        sentence = pgettext_lazy("audit sentence", "{actor} が 職員全員に2段階認証を求めるようにしました")
    else:
        sentence = pgettext_lazy("audit sentence", "{actor} が 2段階認証を管理者のほかは任意にしました")
    return str(sentence).format_map(line.values())


def _role_change(line: Line) -> str:
    values = line.values()
    for key in ("from", "to"):
        values[key] = _role_label(line.detail.get(key)) or values[key]
    return str(
        pgettext_lazy("audit sentence", "{actor} が {email} の役割を「{from}」から「{to}」に変更しました")
    ).format_map(values)


def _scope_change(line: Line) -> str:
    def scope(limited) -> str:
        return gettext("所属の手続だけ") if limited else gettext("すべての手続")

    values = line.values()
    values["from"], values["to"] = scope(line.detail.get("from")), scope(line.detail.get("to"))
    return str(
        pgettext_lazy("audit sentence", "{actor} が {email} の担当範囲を「{from}」から「{to}」に変更しました")
    ).format_map(values)


def _invited(line: Line) -> str:
    values = line.values()
    values["role"] = _role_label(line.detail.get("role")) or values["role"]
    return str(
        pgettext_lazy(
            "audit sentence", "{actor} が {email} を{role}として登録しました（所属：{departments}）"
        )
    ).format_map(values)


def _removed(line: Line) -> str:
    values = line.values()
    values["role"] = _role_label(line.detail.get("role")) or values["role"]
    return str(
        pgettext_lazy("audit sentence", "{actor} が {email}（{role}）を職員から外しました")
    ).format_map(values)


def _assigned(line: Line) -> str:
    if line.detail.get("assignee"):
        return str(
            pgettext_lazy("audit sentence", "{actor} が 受付番号 {object} の担当者を {assignee} にしました")
        ).format_map(line.values())
    return str(
        pgettext_lazy("audit sentence", "{actor} が 受付番号 {object} の担当者を外しました")
    ).format_map(line.values())


FORMATS = {
    "xlsx": "Excel（.xlsx）",
    "pdf": "PDF",
    "zip": "ZIP",
}
DOCUMENTS = {
    "case": pgettext_lazy("audit action", "申請内容"),
    "receipt": pgettext_lazy("audit action", "控え"),
}


def _format_name(detail: dict) -> str:
    """「CSV（Shift_JIS）」, 「CSV（UTF-8）」, 「Excel（.xlsx）」, 「PDF」…"""
    kind = str(detail.get("format", ""))
    if kind == "csv":
        return "CSV（Shift_JIS）" if detail.get("encoding") == "cp932" else "CSV（UTF-8）"
    return FORMATS.get(kind, kind.upper() or gettext("ファイル"))


def _attachments_downloaded(line: Line) -> str:
    """submission.attachment_download: of one case (a file, or all as a ZIP), or of the inbox's selection (the
    entry's object is then the procedure and `selected` says how many cases)."""
    if line.detail.get("selected"):
        text = pgettext_lazy(
            "audit sentence",
            "{actor} が {object} の申請 {selected}件の添付ファイルをZIPでダウンロードしました",
        )
    else:
        text = pgettext_lazy(
            "audit sentence", "{actor} が 受付番号 {object} の添付ファイルをダウンロードしました"
        )
    return str(text).format_map(line.values())


def _exported(line: Line) -> str:
    """submission.export: of a procedure (CSV, Excel, ZIP, 集計) or of one submission (PDF)."""
    detail = line.detail
    values = line.values()
    values["format"] = _format_name(detail)
    if line.detail.get("document") in DOCUMENTS:
        values["document"] = str(DOCUMENTS[detail["document"]])
        text = pgettext_lazy(
            "audit sentence", "{actor} が 受付番号 {object} の{document}を{format}で出力しました"
        )
    elif detail.get("report") == "tally":
        text = pgettext_lazy(
            "audit sentence", "{actor} が {object} の集計（{from}～{to}）を{format}で出力しました"
        )
    elif detail.get("selected"):
        text = pgettext_lazy(
            "audit sentence", "{actor} が {object} の申請 {selected}件を{format}で出力しました"
        )
    elif isinstance(detail.get("rows"), int):
        text = pgettext_lazy(
            "audit sentence", "{actor} が {object} の申請データ（{rows}件）を{format}で出力しました"
        )
    else:
        text = pgettext_lazy("audit sentence", "{actor} が {object} の申請データを{format}で出力しました")
    sentence = str(text).format_map(values)
    if detail.get("replaced"):
        sentence += str(
            pgettext_lazy("audit sentence", "（Shift_JISにない文字を置き換えた数 {replaced}：{examples}）")
        ).format_map(values)
    return sentence


def _settings_changed(line: Line) -> str:
    """procedure.settings: {"changed": {name: {"from", "to"}}}, each field by its Japanese name."""
    from madoguchi.procedures.models import Procedure

    changes = []
    for name, change in (line.detail.get("changed") or {}).items():
        try:
            label = str(Procedure._meta.get_field(name).verbose_name)
        except Exception:  # a field since renamed or removed: its value still reads
            label = gettext("設定")
        if isinstance(change, dict):
            changes.append(f"{label}：{readable(change.get('from'))} → {readable(change.get('to'))}")
        else:
            changes.append(f"{label}：{readable(change)}")
    values = line.values()
    values["changes"] = "、".join(changes) or pgettext("audit value", "なし")
    return str(
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」の設定を変更しました（{changes}）")
    ).format_map(values)


def _department_saved(line: Line) -> str:
    before, after = line.detail.get("before") or {}, line.detail.get("after") or {}
    values = line.values()
    values["name"] = readable(after.get("name"))
    if not before:
        return str(pgettext_lazy("audit sentence", "{actor} が 所属「{name}」を追加しました")).format_map(
            values
        )
    labels = {"name": gettext("所属名"), "phone": gettext("電話番号"), "email": gettext("メールアドレス")}
    changes = [
        f"{label}：{readable(before.get(key))} → {readable(after.get(key))}"
        for key, label in labels.items()
        if before.get(key) != after.get(key)
    ]
    values["changes"] = "、".join(changes) or pgettext("audit value", "なし")
    return str(
        pgettext_lazy("audit sentence", "{actor} が 所属「{name}」を変更しました（{changes}）")
    ).format_map(values)


def _disposed(line: Line) -> str:
    values = line.values()
    numbers = line.detail.get("receipt_numbers")
    values["numbers"] = "、".join(str(n) for n in numbers) if isinstance(numbers, list) and numbers else "―"
    return str(
        pgettext_lazy(
            "audit sentence",
            "{actor} が 保存期間を過ぎた申請{count}件の廃棄を承認し、内容と添付ファイルを削除しました（受付番号 {numbers}）",
        )
    ).format_map(values)


def _footer_links_saved(line: Line) -> str:
    before, after = line.detail.get("before") or {}, line.detail.get("after") or {}
    labels = {
        "terms_url": gettext("利用規約"),
        "privacy_url": gettext("個人情報の取扱い"),
        "accessibility_url": gettext("アクセシビリティ"),
        "contact_url": gettext("お問い合わせ"),
    }
    values = line.values()
    values["changes"] = "、".join(
        f"{label}：{readable(before.get(key))} → {readable(after.get(key))}"
        for key, label in labels.items()
        if key in after
    ) or pgettext("audit value", "なし")
    return str(
        pgettext_lazy("audit sentence", "{actor} が 住民向け画面の下部のリンクを変更しました（{changes}）")
    ).format_map(values)


def _shared(line: Line) -> str:
    if line.detail.get("updated"):
        text = pgettext_lazy("audit sentence", "{actor} が 手続「{object}」の{council}のひな形を更新しました")
    else:
        text = pgettext_lazy(
            "audit sentence", "{actor} が 手続「{object}」を{council}のひな形として共有しました"
        )
    return str(text).format_map(line.values())


def _license_change(line: Line) -> str:
    values = line.values()
    for key in ("old", "new"):
        value = line.detail.get(key)
        if isinstance(value, dict):
            values[key] = readable(value.get("name") or value.get("id"))
    return str(
        pgettext_lazy(
            "audit sentence", "{actor} が オープンデータの利用条件を「{old}」から「{new}」に変更しました"
        )
    ).format_map(values)


# The actions -----------------------------------------------------------------------------------------

ACTIONS: dict[str, tuple[Any, Any]] = {
    # 申請 (submissions)
    "submission.view": (
        pgettext_lazy("audit action", "申請内容の閲覧"),
        pgettext_lazy("audit sentence", "{actor} が 受付番号 {object} の申請内容を見ました"),
    ),
    "submission.transition": (
        pgettext_lazy("audit action", "状態の変更"),
        _moved(
            pgettext_lazy(
                "audit sentence", "{actor} が 受付番号 {object} の状態を「{from}」から「{to}」に変更しました"
            )
        ),
    ),
    "submission.reopen": (
        pgettext_lazy("audit action", "決定の取消し"),
        _moved(
            pgettext_lazy(
                "audit sentence",
                "{actor} が 受付番号 {object} の状態を「{from}」から「{to}」に戻しました（理由：{reason}）",
            )
        ),
    ),
    "submission.withdraw": (
        pgettext_lazy("audit action", "申請者による取下げ"),
        _moved(
            pgettext_lazy(
                "audit sentence", "{actor} が 受付番号 {object} を取り下げました（「{from}」から「{to}」）"
            )
        ),
    ),
    "submission.resubmit": (
        pgettext_lazy("audit action", "申請者による再提出"),
        _moved(
            pgettext_lazy(
                "audit sentence",
                "{actor} が 受付番号 {object} を補正して再提出しました（「{from}」から「{to}」）",
            )
        ),
    ),
    "submission.note": (
        pgettext_lazy("audit action", "内部メモの追加"),
        pgettext_lazy("audit sentence", "{actor} が 受付番号 {object} に内部メモを追加しました"),
    ),
    "submission.message": (
        pgettext_lazy("audit action", "申請者へのメッセージ"),
        pgettext_lazy("audit sentence", "{actor} が 受付番号 {object} の申請者にメッセージを送りました"),
    ),
    "submission.resident_message": (
        pgettext_lazy("audit action", "申請者からのメッセージ"),
        pgettext_lazy(
            "audit sentence", "{actor} が 受付番号 {object} について担当課にメッセージを送りました"
        ),
    ),
    "email.retry": (
        pgettext_lazy("audit action", "送信できなかったメールの再送"),
        pgettext_lazy("audit sentence", "{actor} が 受付番号 {object} のメールを再送しました"),
    ),
    "submission.inquiry_code_resent": (
        pgettext_lazy("audit action", "問い合わせ番号の再送"),
        pgettext_lazy(
            "audit sentence",
            "{actor} が 受付番号 {object} の問い合わせ番号を申請時のメールアドレスに再送させました",
        ),
    ),
    "submission.assign": (pgettext_lazy("audit action", "担当者の変更"), _assigned),
    "submission.attachment_download": (
        pgettext_lazy("audit action", "添付ファイルのダウンロード"),
        _attachments_downloaded,
    ),
    "submission.export": (pgettext_lazy("audit action", "申請データの出力"), _exported),
    "submission.export_request": (
        pgettext_lazy("audit action", "出力ファイルの作成依頼"),
        pgettext_lazy(
            "audit sentence", "{actor} が {object} の申請データのExcelファイル（.xlsx）の作成を依頼しました"
        ),
    ),
    "submission.export_download": (
        pgettext_lazy("audit action", "出力ファイルのダウンロード"),
        pgettext_lazy("audit sentence", "{actor} が {object} の出力ファイル（Excel）をダウンロードしました"),
    ),
    "submission.tally": (
        pgettext_lazy("audit action", "集計の表示"),
        pgettext_lazy("audit sentence", "{actor} が {object} の集計（{from}～{to}）を見ました"),
    ),
    # 職員 (staff accounts)
    "staff.invite": (pgettext_lazy("audit action", "職員の招待"), _invited),
    "staff.invite_resend": (
        pgettext_lazy("audit action", "招待メールの再送"),
        pgettext_lazy("audit sentence", "{actor} が {email} に招待のメールをもう一度送りました"),
    ),
    "staff.role": (pgettext_lazy("audit action", "職員の役割の変更"), _role_change),
    "staff.departments": (
        pgettext_lazy("audit action", "職員の所属の変更"),
        pgettext_lazy("audit sentence", "{actor} が {email} の所属を「{from}」から「{to}」に変更しました"),
    ),
    "staff.scope": (pgettext_lazy("audit action", "職員の担当範囲の変更"), _scope_change),
    "staff.remove": (pgettext_lazy("audit action", "職員の登録解除"), _removed),
    "staff.password_set": (
        pgettext_lazy("audit action", "リンクからのパスワード設定"),
        pgettext_lazy("audit sentence", "{actor} がメールのリンクからパスワードを設定しました"),
    ),
    # 廃棄 (submissions/retention.py)
    "retention.list": (
        pgettext_lazy("audit action", "廃棄の一覧の作成"),
        pgettext_lazy("audit sentence", "{actor} が 保存期間を過ぎた申請{count}件の廃棄の一覧を作りました"),
    ),
    "retention.dispose": (pgettext_lazy("audit action", "廃棄の承認"), _disposed),
    "retention.cancel": (
        pgettext_lazy("audit action", "廃棄の一覧の取消し"),
        pgettext_lazy("audit sentence", "{actor} が 廃棄の一覧（{count}件）を取り消しました"),
    ),
    # ログイン (accounts/login_security.py)
    "auth.login": (
        pgettext_lazy("audit action", "ログイン"),
        pgettext_lazy("audit sentence", "{actor} がログインしました（接続元 {client}）"),
    ),
    "auth.login_failed": (
        pgettext_lazy("audit action", "ログインの失敗"),
        pgettext_lazy(
            "audit sentence", "{actor} が ユーザー名「{username}」でログインしようとして失敗しました"
        ),
    ),
    "auth.locked_out": (
        pgettext_lazy("audit action", "ログインの停止（ロック）"),
        pgettext_lazy(
            "audit sentence",
            "{actor} が 失敗が続いたため ユーザー名「{username}」と接続元 {client} からのログインを止めました",
        ),
    ),
    "auth.unlock": (
        pgettext_lazy("audit action", "ログインのロック解除"),
        pgettext_lazy(
            "audit sentence", "{actor} が ユーザー名「{username}」のログインのロックを解除しました"
        ),
    ),
    "auth.sessions_ended": (
        pgettext_lazy("audit action", "ほかの端末のログインの終了"),
        pgettext_lazy("audit sentence", "{actor} が ほかの端末でのログイン（{count}件）を終わらせました"),
    ),
    # 開示請求 (submissions/disclosure.py)
    "privacy.disclosure": (
        pgettext_lazy("audit action", "保有個人情報の開示データの出力"),
        pgettext_lazy(
            "audit sentence",
            "{actor} が 開示請求のため 申請{count}件の保有個人情報を出力しました（{receipt_numbers}）",
        ),
    ),
    "auth.sessions_ended_by_admin": (
        pgettext_lazy("audit action", "職員のログインの終了（管理者による）"),
        pgettext_lazy("audit sentence", "{actor} が {object} のログイン（{count}件）をすべて終わらせました"),
    ),
    # 2段階認証 (accounts/two_factor.py)
    "auth.two_factor_on": (
        pgettext_lazy("audit action", "2段階認証の設定"),
        pgettext_lazy("audit sentence", "{actor} が 認証アプリによる2段階認証を設定しました"),
    ),
    "auth.two_factor_off": (
        pgettext_lazy("audit action", "2段階認証の停止"),
        pgettext_lazy("audit sentence", "{actor} が 自分の2段階認証をやめました"),
    ),
    "auth.two_factor_failed": (
        pgettext_lazy("audit action", "確認コードの誤り"),
        pgettext_lazy("audit sentence", "{actor} が 正しくない確認コードを入力しました（接続元 {client}）"),
    ),
    "auth.recovery_code_used": (
        pgettext_lazy("audit action", "回復コードでのログイン"),
        pgettext_lazy("audit sentence", "{actor} が 回復コードでログインしました（残り{left}個）"),
    ),
    "auth.recovery_codes_new": (
        pgettext_lazy("audit action", "回復コードの作り直し"),
        pgettext_lazy("audit sentence", "{actor} が 回復コードを作り直しました（前の回復コードは無効）"),
    ),
    "auth.two_factor_reset": (
        pgettext_lazy("audit action", "2段階認証のリセット"),
        pgettext_lazy("audit sentence", "{actor} が {object} の2段階認証をリセットしました"),
    ),
    "organization.two_factor_policy": (
        pgettext_lazy("audit action", "2段階認証の方針の変更"),
        _two_factor_policy,
    ),
    # 手続 (procedures and the builder)
    "procedure.create": (
        pgettext_lazy("audit action", "手続の作成"),
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」を作成しました"),
    ),
    "procedure.settings": (pgettext_lazy("audit action", "手続の設定の変更"), _settings_changed),
    "procedure.draft": (
        pgettext_lazy("audit action", "フォームの編集"),
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」のフォームを編集しました：{change}"),
    ),
    "procedure.discard": (
        pgettext_lazy("audit action", "公開していない変更の取消し"),
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」の公開していない変更を取り消しました"),
    ),
    "procedure.publish": (
        pgettext_lazy("audit action", "手続の公開・版の作成"),
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」の第{version}版を公開しました"),
    ),
    "procedure.status": (pgettext_lazy("audit action", "手続の状態変更"), _procedure_status),
    "procedure.import": (
        pgettext_lazy("audit action", "ファイルからの手続の作成"),
        pgettext_lazy("audit sentence", "{actor} が ファイル「{file}」から手続「{object}」を作成しました"),
    ),
    "procedure.share": (pgettext_lazy("audit action", "ひな形としての共有"), _shared),
    "procedure.copy_template": (
        pgettext_lazy("audit action", "ひな形からの手続の作成"),
        pgettext_lazy("audit sentence", "{actor} が ひな形「{title}」から手続「{object}」を作成しました"),
    ),
    "procedure.distribute": (
        pgettext_lazy("audit action", "市町村への配布"),
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」を{to}に配布しました"),
    ),
    "procedure.receive": (
        pgettext_lazy("audit action", "県から配布された手続の受取り"),
        pgettext_lazy(
            "audit sentence",
            "{actor} が {from}から配布された手続「{object}」（第{version}版）を受け取りました",
        ),
    ),
    "procedure.accept_update": (
        pgettext_lazy("audit action", "配布元の更新の取込み"),
        pgettext_lazy(
            "audit sentence", "{actor} が 手続「{object}」に配布元の第{version}版の変更を取り込みました"
        ),
    ),
    "procedure.ignore_update": (
        pgettext_lazy("audit action", "配布元の更新の見送り"),
        pgettext_lazy(
            "audit sentence", "{actor} が 手続「{object}」への配布元の第{version}版の変更を見送りました"
        ),
    ),
    "procedure.email_text": (
        pgettext_lazy("audit action", "メール文面の変更"),
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」のメール文面を変更しました"),
    ),
    "procedure.email_text_reset": (
        pgettext_lazy("audit action", "メール文面を標準に戻す"),
        pgettext_lazy("audit sentence", "{actor} が 手続「{object}」のメール文面を標準に戻しました"),
    ),
    # 所属 (departments)
    "department.create": (pgettext_lazy("audit action", "所属の追加"), _department_saved),
    "department.update": (pgettext_lazy("audit action", "所属の変更"), _department_saved),
    "department.delete": (
        pgettext_lazy("audit action", "所属の削除"),
        pgettext_lazy("audit sentence", "{actor} が 所属「{name}」を削除しました"),
    ),
    "organization.footer_links": (pgettext_lazy("audit action", "下部のリンクの変更"), _footer_links_saved),
    # 協議会 (council): indicators, open data, cost shares
    "indicator.create": (
        pgettext_lazy("audit action", "指標の作成"),
        pgettext_lazy("audit sentence", "{actor} が 指標「{name}」を作成しました"),
    ),
    "indicator.update": (
        pgettext_lazy("audit action", "指標の変更"),
        pgettext_lazy("audit sentence", "{actor} が 指標「{name}」を変更しました（{changed}）"),
    ),
    "indicator.target": (
        pgettext_lazy("audit action", "目標値の変更"),
        pgettext_lazy(
            "audit sentence",
            "{actor} が 指標「{name}」の{fiscal_year}年度の目標値を「{old}」から「{new}」に変更しました",
        ),
    ),
    "indicator.actual": (
        pgettext_lazy("audit action", "実績値の変更"),
        pgettext_lazy(
            "audit sentence",
            "{actor} が 指標「{name}」の{fiscal_year}年度の実績値を「{old}」から「{new}」に変更しました",
        ),
    ),
    "indicator.thresholds": (
        pgettext_lazy("audit action", "進捗評価の基準の変更"),
        pgettext_lazy("audit sentence", "{actor} が 進捗評価の基準を「{old}」から「{new}」に変更しました"),
    ),
    "council.open_data_license": (
        pgettext_lazy("audit action", "オープンデータの利用条件の変更"),
        _license_change,
    ),
    "council.search_synonyms": (
        pgettext_lazy("audit action", "検索の同義語の変更"),
        pgettext_lazy("audit sentence", "{actor} が 住民向けの検索の同義語を変更しました（{rules}件の規則）"),
    ),
    "population.update": (
        pgettext_lazy("audit action", "人口の更新"),
        pgettext_lazy("audit sentence", "{actor} が 加入団体の人口を更新しました（出典：{source}）"),
    ),
    "cost_share.save": (
        pgettext_lazy("audit action", "負担金の計算の保存"),
        pgettext_lazy(
            "audit sentence", "{actor} が {working_group}の{fiscal_year}年度の負担金の計算を保存しました"
        ),
    ),
    "cost_share.decide": (
        pgettext_lazy("audit action", "負担金の確定"),
        pgettext_lazy(
            "audit sentence",
            "{actor} が {working_group}の{fiscal_year}年度の負担金を確定しました（総額 {cost}円）",
        ),
    ),
    "cost_share.export": (
        pgettext_lazy("audit action", "負担金の出力"),
        pgettext_lazy(
            "audit sentence", "{actor} が {working_group}の{fiscal_year}年度の負担金を{format}で出力しました"
        ),
    ),
}

# Views collapse: the same person viewing the same object again within services.VIEW_REPEAT_WINDOW is one
# entry (its repeat_count and last_seen_at grow). Changes are never collapsed: never list one here.
VIEW_ACTIONS = frozenset({"submission.view"})


def labels() -> dict[str, Any]:
    """action → its short Japanese name, for the audit page's filter: ACTIONS' names, and any name an
    action recorded elsewhere has in services.ACTION_LABELS."""
    from madoguchi.audit.services import ACTION_LABELS

    return {**{action: label for action, (label, _) in ACTIONS.items()}, **ACTION_LABELS}


def render(line: Line) -> str:
    """The entry as one sentence in the active language. Never raises on odd details."""
    spec = ACTIONS.get(line.action)
    try:
        if spec is not None:
            sentence = spec[1]
            return sentence(line) if callable(sentence) else str(sentence).format_map(line.values())
    except Exception:  # a detail of an unexpected shape: the generic sentence below still says what
        logger.warning("audit entry of action %s read with the generic sentence", line.action)
    return _generic(line)


def _generic(line: Line) -> str:
    name = labels().get(line.action)
    values = line.values()
    values["label"] = str(name) if name else gettext("記録された操作（%(code)s）") % {"code": line.action}
    sentence = str(
        pgettext_lazy("audit sentence", "{actor} が {object} について「{label}」を行いました")
    ).format_map(values)
    shown = [readable(v) for v in line.detail.values() if v not in (None, "", [], {})]
    if shown:
        sentence += str(pgettext_lazy("audit sentence", "（内容：{values}）")).format_map(
            {"values": "、".join(shown)}
        )
    return sentence
