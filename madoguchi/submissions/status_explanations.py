"""What each status means to the resident, in plain Japanese, per kind of procedure; and the expected date of
a decision from the procedure's 標準処理期間. Read by the resident's status page.

The words follow the kind (services.KIND_STATUS_LABELS): a 届出 is 受理, a sign-up is キャンセル, a survey
answer is 確認済み. Every text answers three questions: what it means, what happens next, what the resident
can do.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _

from madoguchi.lib.timeutil import jst_date
from madoguchi.procedures.models import Procedure
from madoguchi.submissions.models import Status, Submission


@dataclass(frozen=True)
class Explanation:
    meaning: str
    next: str
    you_can: str


A, N, S, Q = (
    Procedure.Kind.APPLICATION,
    Procedure.Kind.NOTIFICATION,
    Procedure.Kind.SIGNUP,
    Procedure.Kind.SURVEY,
)

# (kind, status) → (what it means, what happens next, what the resident can do).
_TEXTS: dict[tuple[str, str], tuple] = {
    (A, Status.RECEIVED): (
        _("申請は届いています。担当課が確認を始めるのを待っている状態です。"),
        _("担当課が内容を確認し、審査を始めます。始まると状態が「処理中」になります。"),
        _("取り下げることができます。担当課へのメッセージも送れます。"),
    ),
    (A, Status.IN_REVIEW): (
        _("担当課が申請の内容を審査しています。"),
        _(
            "審査が終わると「完了」または「却下」になり、メールでお知らせします。内容に不足があれば返却されます。"
        ),
        _("この状態では内容の修正や取下げはできません。ご質問は担当課へのメッセージでどうぞ。"),
    ),
    (A, Status.RETURNED): (
        _("担当課から申請が返却されています。内容の修正（補正）が必要です。"),
        _("修正して再提出すると、受付番号はそのままで「処理待ち」に戻ります。"),
        _("経過にある理由を読み、「内容を修正する」から修正してください。取り下げることもできます。"),
    ),
    (A, Status.COMPLETED): (
        _("申請の処理が終わりました。"),
        _("この申請について、これ以上の手続はありません。担当課からのお知らせがあればここに表示されます。"),
        _("控えをダウンロードして保存できます。"),
    ),
    (A, Status.REJECTED): (
        _("申請は認められませんでした（却下）。理由は経過に表示しています。"),
        _("この申請について、これ以上の処理はありません。"),
        _("理由にご不明な点があれば、担当課にお問い合わせください。"),
    ),
    (A, Status.WITHDRAWN): (
        _("申請は取り下げられました。"),
        _("この申請は処理されません。取下げは元に戻せません。"),
        _("もう一度申請するときは、最初から入力し直してください。"),
    ),
    (N, Status.RECEIVED): (
        _("届出は届いています。担当課が確認を始めるのを待っている状態です。"),
        _("担当課が内容を確認します。始まると状態が「処理中」になります。"),
        _("取り下げることができます。担当課へのメッセージも送れます。"),
    ),
    (N, Status.IN_REVIEW): (
        _("担当課が届出の内容を確認しています。"),
        _("確認が終わると「受理」になり、メールでお知らせします。内容に不足があれば返却されます。"),
        _("この状態では内容の修正や取下げはできません。ご質問は担当課へのメッセージでどうぞ。"),
    ),
    (N, Status.RETURNED): (
        _("担当課から届出が返却されています。内容の修正（補正）が必要です。"),
        _("修正して再提出すると、受付番号はそのままで「処理待ち」に戻ります。"),
        _("経過にある理由を読み、「内容を修正する」から修正してください。取り下げることもできます。"),
    ),
    (N, Status.COMPLETED): (
        _("届出は受理されました。"),
        _("この届出について、これ以上の手続はありません。"),
        _("控えをダウンロードして保存できます。"),
    ),
    (N, Status.REJECTED): (
        _("届出は受理されませんでした（不受理）。理由は経過に表示しています。"),
        _("この届出について、これ以上の処理はありません。"),
        _("理由にご不明な点があれば、担当課にお問い合わせください。"),
    ),
    (N, Status.WITHDRAWN): (
        _("届出は取り下げられました。"),
        _("この届出は処理されません。取下げは元に戻せません。"),
        _("もう一度届け出るときは、最初から入力し直してください。"),
    ),
    (S, Status.RECEIVED): (
        _("申込みは届いています。担当課が確認を始めるのを待っている状態です。"),
        _("担当課が申込みを確認し、受付が決まると「受付済み」になります。"),
        _("キャンセルできます。担当課へのメッセージも送れます。"),
    ),
    (S, Status.IN_REVIEW): (
        _("担当課が申込みを確認しています。"),
        _("確認が終わると「受付済み」になり、メールでお知らせします。"),
        _("ご質問は担当課へのメッセージでどうぞ。"),
    ),
    (S, Status.RETURNED): (
        _("担当課から申込みが返却されています。内容の修正が必要です。"),
        _("修正して再提出すると、受付番号はそのままで「処理待ち」に戻ります。"),
        _("経過にある理由を読み、「内容を修正する」から修正してください。キャンセルすることもできます。"),
    ),
    (S, Status.COMPLETED): (
        _("お申込みを受け付けました（受付済み）。"),
        _("当日の案内などは、担当課からのお知らせをご覧ください。"),
        _("参加できなくなったときは、この画面からキャンセルしてください。席がほかの方に回ります。"),
    ),
    (S, Status.REJECTED): (
        _("申込みをお受けできませんでした（お断り）。理由は経過に表示しています。"),
        _("この申込みについて、これ以上の処理はありません。"),
        _("理由にご不明な点があれば、担当課にお問い合わせください。"),
    ),
    (S, Status.WITHDRAWN): (
        _("申込みはキャンセルされました。"),
        _("キャンセルは元に戻せません。"),
        _("もう一度申し込むときは、最初から入力し直してください（定員に空きがあるときに限ります）。"),
    ),
    (Q, Status.RECEIVED): (
        _("回答は届いています。ご協力ありがとうございました。"),
        _("担当課が回答を確認し、ほかの回答と合わせて集計します。"),
        _("回答の取下げや修正はできません。ご質問は担当課へのメッセージでどうぞ。"),
    ),
    (Q, Status.IN_REVIEW): (
        _("担当課が回答を確認しています。"),
        _("確認が終わると「確認済み」になります。"),
        _("ご質問は担当課へのメッセージでどうぞ。"),
    ),
    (Q, Status.COMPLETED): (
        _("担当課が回答を確認しました。"),
        _("回答はほかの回答と合わせて集計されます。これ以上の手続はありません。"),
        _("控えをダウンロードして保存できます。"),
    ),
}


def explain(kind: str, status: str) -> Explanation | None:
    """The explanation of `status` for a procedure of `kind`, in the active language; an unknown kind reads
    as an application; None for a status with no text (a draft)."""
    texts = _TEXTS.get((kind, status)) or _TEXTS.get((A, status))
    if texts is None:
        return None
    return Explanation(*(str(t) for t in texts))


def expected_decision_date(submission: Submission) -> date | None:
    """The JST date by which a decision is expected: the arrival date (到達日, JST) plus the procedure's
    標準処理期間 in calendar days (行政手続法 第6条), the same rule as the inbox's 期限切れ filter.
    None when the procedure sets no period, for a survey answer, or before arrival."""
    days = submission.procedure.standard_processing_days
    if days is None or submission.submitted_at is None or submission.procedure.kind == Q:
        return None
    return jst_date(submission.submitted_at) + timedelta(days=days)
