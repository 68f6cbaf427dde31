"""A procedure's own e-mail texts: placeholders such as {受付番号}, checked and filled as plain text.

Staff text never goes through the Django template engine: a text is split into literal parts and
placeholders here, and a value is put in as it is, never read again for placeholders. `{{` and `}}` write a
brace itself. Without a procedure's own text the default texts are sent (notifications/templates/), which
DEFAULTS below say again in placeholders, as the starting point of an edit.
"""

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_lazy

from madoguchi.lib import japanese as ja

SUBJECT_MAX_LENGTH = 200
BODY_MAX_LENGTH = 10000

COMMON = ("受付番号", "手続名", "団体名", "状態", "担当", "状況確認URL")
# kind → its name on the staff page, and the placeholders its text may use.
KINDS: dict[str, tuple] = {
    "receipt": (gettext_lazy("受付のお知らせ"), (*COMMON, "問い合わせ番号", "到達日時")),
    "returned": (gettext_lazy("差戻し（補正のお願い）"), (*COMMON, "理由", "補正期限")),
    "completed": (gettext_lazy("完了のお知らせ"), (*COMMON, "理由")),
    "rejected": (gettext_lazy("却下のお知らせ"), (*COMMON, "理由")),
    "message": (gettext_lazy("担当課からのメッセージ"), (*COMMON, "本文")),
    "reopened": (gettext_lazy("処理の再開のお知らせ"), (*COMMON, "理由")),
    "withdrawn": (gettext_lazy("取下げ（キャンセル）のお知らせ"), (*COMMON, "理由")),
}


def kinds_for(procedure_kind: str) -> list[str]:
    """The e-mail kinds a procedure of this kind sends: a survey answer is never returned or rejected."""
    if procedure_kind == "survey":
        return [k for k in KINDS if k not in ("returned", "rejected", "withdrawn")]
    return list(KINDS)


_FOOTER = "\n{担当}\n\nこのメールは送信専用です。返信されてもお答えできません。\n"
DEFAULTS: dict[str, tuple[str, str]] = {
    "receipt": (
        "【受付】{手続名}（受付番号 {受付番号}）",
        "{団体名}の電子申請サービスです。\n以下の内容で受け付けました。\n\n"
        "手続名：{手続名}\n受付番号：{受付番号}\n問い合わせ番号：{問い合わせ番号}\n到達日時：{到達日時}\n\n"
        "処理の状況は、受付番号と問い合わせ番号を入力して確認できます。\n{状況確認URL}\n\n"
        "問い合わせ番号は、状況の確認と取下げに使います。他の人に知らせないでください。\n"
        "お問い合わせの際は受付番号をお伝えください。\n" + _FOOTER,
    ),
    "returned": (
        "【{状態}】{手続名}（受付番号 {受付番号}）",
        "{団体名}の電子申請サービスです。\n申請の状態が「{状態}」になりました。\n"
        "内容を修正して、補正期限までに再提出してください。\n\n"
        "手続名：{手続名}\n受付番号：{受付番号}\n補正期限：{補正期限}\n\n担当課からのお知らせ：\n{理由}\n\n"
        "受付番号と問い合わせ番号を入力すると、内容を修正できます。\n{状況確認URL}\n" + _FOOTER,
    ),
    "completed": (
        "【{状態}】{手続名}（受付番号 {受付番号}）",
        "{団体名}の電子申請サービスです。\n申請の状態が「{状態}」になりました。\n\n"
        "手続名：{手続名}\n受付番号：{受付番号}\n\n担当課からのお知らせ：\n{理由}\n\n"
        "詳しくは、受付番号と問い合わせ番号を入力して確認してください。\n{状況確認URL}\n" + _FOOTER,
    ),
    "rejected": (
        "【{状態}】{手続名}（受付番号 {受付番号}）",
        "{団体名}の電子申請サービスです。\n申請の状態が「{状態}」になりました。\n\n"
        "手続名：{手続名}\n受付番号：{受付番号}\n\n理由：\n{理由}\n\n"
        "詳しくは、受付番号と問い合わせ番号を入力して確認してください。\n{状況確認URL}\n" + _FOOTER,
    ),
    "message": (
        "【お知らせ】{手続名}（受付番号 {受付番号}）",
        "{団体名}の電子申請サービスです。\n担当課からメッセージが届いています。\n\n"
        "手続名：{手続名}\n受付番号：{受付番号}\n\n{本文}\n\n"
        "受付番号と問い合わせ番号を入力すると、これまでのメッセージを確認できます。\n{状況確認URL}\n"
        + _FOOTER,
    ),
    "reopened": (
        "【処理を再開しました】{手続名}（受付番号 {受付番号}）",
        "{団体名}の電子申請サービスです。\n決定を取り消し、改めて処理することになりました（状態：{状態}）。\n\n"
        "手続名：{手続名}\n受付番号：{受付番号}\n\n理由：\n{理由}\n\n"
        "詳しくは、受付番号と問い合わせ番号を入力して確認してください。\n{状況確認URL}\n" + _FOOTER,
    ),
    "withdrawn": (
        "【{状態}】{手続名}（受付番号 {受付番号}）",
        "{団体名}の電子申請サービスです。\nお申し出のとおり、取下げ（キャンセル）を受け付けました。"
        "状態は「{状態}」になりました。\n\n"
        "手続名：{手続名}\n受付番号：{受付番号}\n\nお書きになった理由：\n{理由}\n\n"
        "取下げは元に戻せません。もう一度申し込むときは、最初から入力し直してください。\n"
        "お心当たりがない場合は、担当課にご連絡ください。\n{状況確認URL}\n" + _FOOTER,
    ),
}


class TextError(ValueError):
    """The text cannot be used; str() is a Japanese message naming the problem, fit to show."""


@dataclass(frozen=True)
class Placeholder:
    name: str


# A control character other than a line break or a tab (the body's only layout characters): the project's
# class (lib/japanese), CR, the Unicode line separators and the BOM.
_CONTROL = re.compile(f"[{ja.CONTROL_CHARACTER_CLASS}\r\u2028\u2029\ufeff]")


def parse(text: str, allowed: tuple[str, ...], *, field: str) -> list:
    """The text as a list of str (literal) and Placeholder. `field` names the part in messages (件名, 本文).

    Raises TextError for an unknown placeholder (named, with the ones allowed), a `{` never closed or a
    `}` never opened (with its line), and an empty name.
    """
    parts: list = []
    literal: list[str] = []
    i, line = 0, 1
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
        if char in "{}" and text[i : i + 2] in ("{{", "}}"):
            literal.append(char)
            i += 2
            continue
        if char == "}":
            raise TextError(
                gettext(
                    "%(field)s %(line)s行目：「}」に対応する「{」がありません。"
                    "波かっこそのものを書くときは「}}」と書いてください。"
                )
                % {"field": field, "line": line}
            )
        if char == "{":
            end = text.find("}", i + 1)
            name = text[i + 1 : end] if end != -1 else ""
            if end == -1 or "{" in name or "\n" in name:
                raise TextError(
                    gettext(
                        "%(field)s %(line)s行目：「{」が閉じられていません。"
                        "波かっこそのものを書くときは「{{」と書いてください。"
                    )
                    % {"field": field, "line": line}
                )
            key = unicodedata.normalize("NFKC", name).strip()
            if key.upper() == "状況確認URL":
                key = "状況確認URL"
            if key not in allowed:
                raise TextError(
                    gettext(
                        "%(field)s %(line)s行目：「{%(name)s}」は使えない差し込み項目です。使えるもの：%(allowed)s"
                    )
                    % {
                        "field": field,
                        "line": line,
                        "name": name[:30],
                        "allowed": "、".join("{" + a + "}" for a in allowed),
                    }
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Placeholder(key))
            i = end + 1
            continue
        literal.append(char)
        i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def check(kind: str, subject: str, body: str) -> tuple[str, str]:
    """The subject and body cleaned (line ends as \\n, subject stripped), or TextError in Japanese:
    an unknown kind, an empty or too long part, a line break in the subject, a control character,
    an unknown placeholder or a broken brace."""
    if kind not in KINDS:
        raise TextError(gettext("この種類のメールはありません。"))
    subject = subject.replace("\r\n", "\n").replace("\r", "\n").strip()
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not subject:
        raise TextError(gettext("件名を入力してください。"))
    if not body.strip():
        raise TextError(gettext("本文を入力してください。"))
    if "\n" in subject:
        raise TextError(gettext("件名は1行で入力してください（改行は使えません）。"))
    if len(subject) > SUBJECT_MAX_LENGTH:
        raise TextError(gettext("件名は200文字以内で入力してください。"))
    if len(body) > BODY_MAX_LENGTH:
        raise TextError(gettext("本文は10,000文字以内で入力してください。"))
    for label, text in ((gettext("件名"), subject), (gettext("本文"), body)):
        if _CONTROL.search(text):
            raise TextError(
                gettext("%(field)s：使えない制御文字が含まれています。貼り付けた文字を確かめてください。")
                % {"field": label}
            )
    allowed = KINDS[kind][1]
    parse(subject, allowed, field=gettext("件名"))
    parse(body, allowed, field=gettext("本文"))
    return subject, body


def fill(text: str, allowed: tuple[str, ...], values: dict[str, str], *, one_line: bool = False) -> str:
    """The text with each placeholder replaced by its value as plain text (a missing value is empty).
    `one_line`: line breaks in values become spaces (a subject)."""
    out = []
    for part in parse(text, allowed, field=""):
        if isinstance(part, Placeholder):
            value = str(values.get(part.name, ""))
            out.append(" ".join(value.split("\n")) if one_line else value)
        else:
            out.append(part)
    return "".join(out)
