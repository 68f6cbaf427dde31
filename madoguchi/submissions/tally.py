"""集計: the answers of a procedure (a survey, or any procedure) tallied per question, for staff.

What counts (the rules staff are told on the page):

- Submissions not withdrawn (取下げ) and not drafts, whatever their status otherwise; arrived (到達日, JST)
  within the range asked for, if any.
- A question counts for a respondent only if that respondent was shown it: a question missing from the
  form version they answered, or hidden by the form's rules (procedures/rules.py), leaves them out of that
  question altogether, not even as 無回答. A question shown and left empty is 無回答.
- Choice questions (single_choice, dropdown, multiple_choice, consent) list the options of every published
  version (current version's first, in its order; then options only older versions had, newest first), so
  an answer whose option was since renamed is still counted under what was answered. Shares are out of
  the respondents shown the question (無回答 included, so single-answer shares sum to 100%); for
  multiple_choice a respondent may count under several options and the shares can sum over 100%.
- Numbers: count, minimum, maximum, mean, median. Dates: earliest and latest. Free text (short_text,
  long_text): the answers, newest first, up to a limit, and how many there are. Other questions (name,
  address, e-mail, phone, file, repeating groups): only how many answered; their answers are personal data
  and are not listed.

One pass over the submissions (``.iterator()``), answers read through submissions.answers.read_answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext

from madoguchi.lib.timeutil import JST, jst_start_of_day
from madoguchi.procedures import rules
from madoguchi.procedures.formspec import FieldSpec
from madoguchi.procedures.models import FormVersion
from madoguchi.submissions.answers import read_answers
from madoguchi.submissions.models import Status, Submission

CHOICE = ("single_choice", "dropdown", "multiple_choice", "consent")
TEXT = ("short_text", "long_text")
# Free-text answers listed per question, newest first; the page says how many more there are.
TEXT_LIMIT = 100
# Statuses that are not answers to count: a withdrawn submission was taken back by its resident.
NOT_COUNTED = (Status.WITHDRAWN, Status.DRAFT)


@dataclass
class OptionCount:
    """One option of a choice question: how many respondents chose it and their share (0–1, None when no
    respondent was shown the question). current: still an option of the current version."""

    label: str
    count: int = 0
    share: Decimal | None = None
    current: bool = True


@dataclass
class Question:
    """The tally of one question. kind is "choice", "number", "date", "text" or "other".

    asked: respondents shown the question; answered: of them, those who answered; unanswered: the rest
    (無回答). Numbers and dates are None when nobody answered.
    """

    key: str
    label: str
    type: str
    kind: str
    unit: str = ""
    asked: int = 0
    answered: int = 0
    options: list[OptionCount] = field(default_factory=list)
    unanswered_share: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    mean: Decimal | None = None
    median: Decimal | None = None
    earliest: date | None = None
    latest: date | None = None
    texts: list[tuple[datetime, str]] = field(default_factory=list)  # (arrived, answer), newest first
    _numbers: list[Decimal] = field(default_factory=list, repr=False)
    _by_label: dict[str, OptionCount] = field(default_factory=dict, repr=False)

    @property
    def unanswered(self) -> int:
        return self.asked - self.answered

    @property
    def multiple(self) -> bool:
        return self.type == "multiple_choice"

    @property
    def more_texts(self) -> int:
        """Free-text answers not listed (beyond TEXT_LIMIT)."""
        return self.answered - len(self.texts) if self.kind == "text" else 0

    def _option(self, label: str) -> OptionCount:
        option = self._by_label.get(label)
        if option is None:  # answered, but in no version's options (edited data): counted as answered
            option = self._by_label[label] = OptionCount(label=label, current=False)
            self.options.append(option)
        return option


@dataclass
class Tally:
    """A procedure's tally: respondents counted (submissions in range, not withdrawn) and one Question per
    input field of any version, current version's order first. date_from/date_to: the JST range asked
    (inclusive days), or None."""

    respondents: int
    questions: list[Question]
    date_from: date | None = None
    date_to: date | None = None
    by_month: dict[tuple[int, int], int] = field(default_factory=dict)  # (year, month) in JST → respondents

    def months(self) -> list[tuple[int, int, int]]:
        """(year, month, respondents) for every month from the first arrival to the last, JST, in order;
        months with no respondent included as 0."""
        if not self.by_month:
            return []
        (year, month), last = min(self.by_month), max(self.by_month)
        months = []
        while (year, month) <= last:
            months.append((year, month, self.by_month.get((year, month), 0)))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months

    @property
    def choice_questions(self) -> list[Question]:
        return [q for q in self.questions if q.kind == "choice"]


def share(count: int, of: int) -> Decimal | None:
    """count / of as a fraction (0–1, exact Decimal), or None when of is 0."""
    if not of:
        return None
    return Decimal(count) / Decimal(of)


def percent_value(value: Decimal | None) -> Decimal | None:
    """A share as a percentage with one decimal, rounded half up: Decimal('0.4') → Decimal('40.0')."""
    if value is None:
        return None
    return (value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percent(value: Decimal | None) -> str:
    """percent_value as text: Decimal('0.4') → 「40.0」; None → 「」."""
    return "" if value is None else str(percent_value(value))


def _kind(spec: FieldSpec) -> str:
    if spec.type in CHOICE:
        return "choice"
    if spec.type == "number":
        return "number"
    if spec.type == "date":
        return "date"
    if spec.type in TEXT:
        return "text"
    return "other"


def _consent_options() -> list[str]:
    return [gettext("同意する"), gettext("同意しない")]


def _questions(versions: list[FormVersion]) -> dict[str, Question]:
    """One Question per input field key of any version (newest version's label and type), with the options
    of every version merged: the newest version's in its order, then older ones' not seen yet."""
    questions: dict[str, Question] = {}
    for version in versions:  # newest first
        for spec in version.spec.input_fields:
            question = questions.get(spec.key)
            if question is None:
                question = questions[spec.key] = Question(
                    key=spec.key, label=spec.label, type=spec.type, kind=_kind(spec), unit=spec.unit
                )
            if question.kind != "choice":
                continue
            labels = _consent_options() if spec.type == "consent" else spec.options
            for label in labels:
                if label not in question._by_label:
                    option = OptionCount(label=label, current=version is versions[0])
                    question._by_label[label] = option
                    question.options.append(option)
    return questions


def _count(question: Question, value: Any, arrived: datetime, text_limit: int) -> None:
    """Add one shown respondent's answer (None or empty: 無回答) to question."""
    question.asked += 1
    if value is None or value == "" or value == [] or value == {}:
        if question.type != "consent":
            return
    if question.kind == "choice":
        if question.type == "consent":
            # An unticked consent is stored as False (or left out): both read 「同意しない」.
            question.answered += 1
            question._option(_consent_options()[0 if value is True else 1]).count += 1
            return
        chosen = value if isinstance(value, list) else [value]
        labels = list(dict.fromkeys(str(v) for v in chosen if v not in (None, "")))
        if not labels:
            return
        question.answered += 1
        for label in labels:
            question._option(label).count += 1
        return
    if question.kind == "number":
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return  # not a number (edited data): not counted as answered
        if not number.is_finite():
            return
        question.answered += 1
        question._numbers.append(number)
        return
    if question.kind == "date":
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            return
        question.answered += 1
        question.earliest = day if question.earliest is None else min(question.earliest, day)
        question.latest = day if question.latest is None else max(question.latest, day)
        return
    question.answered += 1
    if question.kind == "text" and len(question.texts) < text_limit:
        question.texts.append((arrived, str(value)))


def _finish(question: Question) -> None:
    if question.kind == "choice":
        for option in question.options:
            option.share = share(option.count, question.asked)
        question.unanswered_share = share(question.unanswered, question.asked)
    elif question.kind == "number" and question._numbers:
        numbers = sorted(question._numbers)
        middle = len(numbers) // 2
        question.minimum, question.maximum = numbers[0], numbers[-1]
        question.mean = _round(sum(numbers, Decimal(0)) / len(numbers))
        question.median = _round(
            numbers[middle] if len(numbers) % 2 else (numbers[middle - 1] + numbers[middle]) / 2
        )
        question._numbers = []


def _round(number: Decimal) -> Decimal:
    """Two decimals at most, trailing zeros dropped: 12.3456 → 12.35, 4.50 → 4.5, 3.00 → 3."""
    rounded = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return rounded.to_integral_value() if rounded == rounded.to_integral_value() else rounded.normalize()


def tally_procedure(
    procedure, *, date_from: date | None = None, date_to: date | None = None, text_limit: int = TEXT_LIMIT
) -> Tally:
    """Tally the answers of procedure (fetched through accounts.access by the caller).

    date_from, date_to: 到達日 in JST, both days included; None for no bound. Submissions withdrawn (取下げ)
    or still drafts are left out. Reads every counted submission once, in arrival order newest first, with
    ``.iterator()``: memory stays flat except for the values of number questions (for the median) and up
    to text_limit free-text answers per question. Raises nothing for odd stored values: a value a
    question cannot read (not a number, not a date) is left out of that question's answered count.
    """
    versions = list(FormVersion.objects.filter(procedure=procedure).order_by("-number"))
    questions = _questions(versions)
    # Per version: its spec, whether its rules decide what was shown, and its input keys in form order.
    specs = {v.pk: v.spec for v in versions}
    input_keys = {pk: [f.key for f in spec.input_fields] for pk, spec in specs.items()}
    submissions = Submission.objects.filter(
        organization_id=procedure.organization_id, procedure=procedure
    ).exclude(status__in=NOT_COUNTED)
    if date_from:
        submissions = submissions.filter(submitted_at__gte=jst_start_of_day(date_from))
    if date_to:
        submissions = submissions.filter(submitted_at__lt=jst_start_of_day(date_to + timedelta(days=1)))
    respondents = 0
    by_month: dict[tuple[int, int], int] = {}
    for submission in (
        submissions.only("organization_id", "submitted_at", "form_version_id", "answers_data")
        .order_by("-submitted_at", "-id")
        .iterator(chunk_size=2000)
    ):
        spec = specs.get(submission.form_version_id)
        if spec is None:  # pragma: no cover - a submission's version belongs to its procedure
            continue
        respondents += 1
        arrived = submission.submitted_at.astimezone(JST)
        by_month[arrived.year, arrived.month] = by_month.get((arrived.year, arrived.month), 0) + 1
        answers = read_answers(submission)
        keys = input_keys[submission.form_version_id]
        if spec.has_rules:
            shown = set(rules.evaluate(spec, answers).shown)
            keys = [k for k in keys if k in shown]
        for key in keys:
            _count(questions[key], answers.get(key), submission.submitted_at, text_limit)
    for question in questions.values():
        _finish(question)
    return Tally(
        respondents=respondents,
        questions=list(questions.values()),
        date_from=date_from,
        date_to=date_to,
        by_month=by_month,
    )


CSV_HEADER = ["質問", "選択肢", "件数", "割合（%）"]


def csv_rows(tally: Tally) -> Iterator[list[str | int | Decimal | None]]:
    """Rows of the tally's CSV under CSV_HEADER: first 「回答者数」, then per choice question one row per
    option and one for 無回答: [question, option, count, percentage with one decimal or None]. Shares are
    out of the respondents shown the question; for multiple_choice they can sum over 100%. Call with
    Japanese active: the CSV is Japanese."""
    yield [gettext("回答者数"), "", tally.respondents, None]
    for question in tally.choice_questions:
        for option in question.options:
            yield [question.label, option.label, option.count, percent_value(option.share)]
        unanswered = percent_value(question.unanswered_share)
        yield [question.label, gettext("無回答"), question.unanswered, unanswered]
