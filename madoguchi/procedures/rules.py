"""Pages and conditional rules of a form: which pages a resident goes through, which fields they are asked,
and whether a rule set is sound. The server decides with these functions on every step and on submit;
the browser's script only mirrors them for convenience.

A condition may only name a field that comes before it (earlier page, or earlier on the same page), and a
skip only goes forward, so evaluation is one pass in form order and a rule set can never loop. An exit page
is entered by a skip (or by its own conditions), never just because it comes next.
An answer to a field that is not shown is dropped: never checked, never stored.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from madoguchi.procedures.formspec import (
    COMPARISONS,
    CONDITION_OP_LABELS,
    Condition,
    FieldSpec,
    FormProblem,
    FormSpec,
    PageSpec,
)

SINGLE_PAGE = "p1"


def pages_of(spec: FormSpec) -> list[PageSpec]:
    """The form's pages: as defined; one per question (a heading goes with the question after it); or
    one page holding every field."""
    if spec.pages:
        return list(spec.pages)
    if spec.one_question_per_page:
        pages, pending = [], []
        for f in spec.fields:
            pending.append(f.key)
            if f.is_input:
                pages.append(PageSpec(key=f"q{len(pages) + 1}", title=f.label, fields=pending))
                pending = []
        if pending:
            if pages:
                last = pages[-1]
                pages[-1] = last.model_copy(update={"fields": [*last.fields, *pending]})
            else:
                pages.append(PageSpec(key="q1", fields=pending))
        return pages
    return [PageSpec(key=SINGLE_PAGE, fields=[f.key for f in spec.fields])]


def field_order(spec: FormSpec) -> list[FieldSpec]:
    """Every field in the order a resident meets them (pages in order, fields in page order)."""
    if not spec.pages:
        return list(spec.fields)
    return [spec.by_key[key] for page in spec.pages for key in page.fields if key in spec.by_key]


# Evaluating --------------------------------------------------------------------------------------------


def _as_number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _is_empty(answer: Any) -> bool:
    return answer is None or answer == "" or answer == [] or answer is False or answer == {}


def condition_holds(condition: Condition, spec: FormSpec, values: dict[str, Any]) -> bool:
    """Whether one condition holds for the answers so far (`values`: clean answers of shown fields)."""
    answer = values.get(condition.field)
    op, expected = condition.op, condition.value
    if op == "empty":
        return _is_empty(answer)
    if op == "not_empty":
        return not _is_empty(answer)
    if _is_empty(answer):
        return op == "not_equals"
    target = spec.by_key.get(condition.field)
    if op in COMPARISONS:
        parse = _as_date if target is not None and target.type == "date" else _as_number
        left, right = parse(answer), parse(expected)
        if left is None or right is None:
            return False
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    chosen = [str(a) for a in answer] if isinstance(answer, list) else None
    text = _display_text(answer)
    if op == "equals":
        return expected in chosen if chosen is not None else text == expected
    if op == "not_equals":
        return expected not in chosen if chosen is not None else text != expected
    if op == "one_of":
        options = expected if isinstance(expected, list) else [expected]
        return any(o in chosen for o in options) if chosen is not None else text in options
    if op == "contains":
        return expected in chosen if chosen is not None else str(expected or "") in text
    return False


def _display_text(answer: Any) -> str:
    if isinstance(answer, dict):
        return " ".join(str(v) for v in answer.values())
    return str(answer)


def all_hold(conditions, spec: FormSpec, values: dict[str, Any]) -> bool:
    return all(condition_holds(c, spec, values) for c in conditions)


@dataclass
class Flow:
    """Where a resident's answers take them: the pages on their path, the fields they are asked, and the
    exit page if the form ends there (then they cannot submit)."""

    pages: list[PageSpec] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # field keys, in order
    exit: PageSpec | None = None
    values: dict[str, Any] = field(default_factory=dict)  # the answers of shown fields only

    def page_index(self, key: str) -> int | None:
        return next((i for i, p in enumerate(self.pages) if p.key == key), None)


def evaluate(spec: FormSpec, values: dict[str, Any]) -> Flow:
    """Walk the form with these answers. Answers of fields not shown are left out of `Flow.values`."""
    return walk(spec, lambda f: values.get(f.key))


def walk(spec: FormSpec, answer: Callable[[FieldSpec], Any]) -> Flow:
    """Walk the form in order, asking `answer(field)` for each field shown (and only those): the answer,
    or None. A field's answer is asked before any later condition needs it."""
    pages = pages_of(spec)
    if not spec.has_rules:
        flow = Flow(pages=pages)
        for f in field_order(spec):
            flow.shown.append(f.key)
            if f.is_input:
                value = answer(f)
                if not _is_empty(value):
                    flow.values[f.key] = value
        return flow
    index = {p.key: i for i, p in enumerate(pages)}
    flow = Flow()
    i, jumped = 0, False
    while i < len(pages):
        page = pages[i]
        # An exit page is entered by a skip, or in turn when its own conditions say so; never by default.
        passing_exit = page.is_exit and not jumped and not page.show_if
        if passing_exit or not all_hold(page.show_if, spec, flow.values):
            i, jumped = i + 1, False
            continue
        flow.pages.append(page)
        for key in page.fields:
            f = spec.by_key.get(key)
            if f is None or not all_hold(f.show_if, spec, flow.values):
                continue
            flow.shown.append(key)
            if f.is_input:
                value = answer(f)
                if not _is_empty(value):
                    flow.values[key] = value
        if page.is_exit:
            flow.exit = page
            break
        following, jumped = i + 1, False
        for rule in page.skip_to:
            if all_hold(rule.when, spec, flow.values):
                following, jumped = index.get(rule.goto, following), True
                break
        i = max(following, i + 1)
    return flow


def shown_answers(spec: FormSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Only the answers to fields the rules show: what may be stored."""
    if not spec.has_rules:
        return values
    return evaluate(spec, values).values


# Checking a rule set when it is saved -------------------------------------------------------------------


def _where(spec: FormSpec, key: str) -> str:
    f = spec.by_key.get(key)
    return f"「{f.label}」" if f else f"「{key}」"


def _check_condition(spec: FormSpec, condition: Condition, earlier: set[str], owner: str) -> str | None:
    """A Japanese message if the condition cannot work, else None."""
    target = spec.by_key.get(condition.field)
    if target is None:
        return f"{owner}の条件が、ない項目（削除された項目）を指しています。条件を選び直してください"
    if condition.field not in earlier:
        return (
            f"{owner}の条件に、後ろにある項目{_where(spec, condition.field)}は使えません"
            "（条件がめぐって決まらなくなるため）。前にある項目を選んでください"
        )
    if not target.is_input or target.type in ("file", "group"):
        return f"{owner}の条件に、{_where(spec, condition.field)}（{target.type_label}）は使えません"
    op, value = condition.op, condition.value
    label = CONDITION_OP_LABELS[op]
    if op in ("empty", "not_empty"):
        return None
    if value is None or value == "" or value == []:
        return f"{owner}の条件「{target.label}{label}」の値を入れてください"
    if op in COMPARISONS:
        if target.type == "date":
            if _as_date(value) is None:
                return f"{owner}の条件の値は、2026-04-01 の形の日付にしてください"
        elif target.type == "number":
            if _as_number(value) is None:
                return f"{owner}の条件の値は、数値にしてください"
        else:
            return f"{owner}の条件「{label}」は、数値か日付の項目にだけ使えます"
        return None
    if op == "one_of" and not isinstance(value, list):
        return f"{owner}の条件「{label}」には、値を1つ以上選んでください"
    if op != "one_of" and isinstance(value, list):
        return f"{owner}の条件の値は1つにしてください"
    checks_options = op in ("equals", "not_equals", "one_of") or target.type == "multiple_choice"
    if target.options and checks_options:
        missing = [v for v in (value if isinstance(value, list) else [value]) if v not in target.options]
        if missing:
            return f"{owner}の条件の値「{missing[0]}」は、{_where(spec, condition.field)}の選択肢にありません"
    return None


def _finishable(pages: list[PageSpec], index: dict[str, int]) -> bool:
    """Whether some answers reach the end of the form without an exit page. A condition may or may not
    hold, except that a skip without conditions is always taken; a page shown only under conditions may
    or may not be shown."""
    seen, stack = set(), [(0, False)]
    while stack:
        i, jumped = stack.pop()
        if i >= len(pages):
            return True
        if (i, jumped) in seen:
            continue
        seen.add((i, jumped))
        page = pages[i]
        if page.is_exit and not jumped and not page.show_if:
            stack.append((i + 1, False))  # passed by in turn
            continue
        if page.show_if:
            stack.append((i + 1, False))  # the page may be skipped
        if page.is_exit:
            continue
        for rule in page.skip_to:
            stack.append((index.get(rule.goto, i + 1), True))
            if not rule.when:
                break  # always taken: the later rules and the next page are never reached this way
        else:
            stack.append((i + 1, False))
    return False


def check_rules(spec: FormSpec) -> list[FormProblem]:
    """Every problem with the form's pages and rules, each at the field (or page) it is about, in
    Japanese: a condition naming a deleted or later field (a loop), a skip backwards, fields on no page or
    on two, an exit page with questions, a rule set that leaves no way to finish."""
    problems: list[FormProblem] = []
    position = {f.key: i for i, f in enumerate(spec.fields)}
    pages = pages_of(spec)
    index = {p.key: i for i, p in enumerate(pages)}
    if spec.pages:
        keys = [p.key for p in spec.pages]
        for duplicate in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(FormProblem(f"ページキー「{duplicate}」が重複しています"))
        placed: dict[str, str] = {}
        for page in spec.pages:
            for key in page.fields:
                if key not in spec.by_key:
                    problems.append(
                        FormProblem(
                            f"ページ「{page.title or page.key}」に、ない項目（削除された項目）があります"
                        )
                    )
                elif key in placed:
                    problems.append(
                        FormProblem(f"{_where(spec, key)}が2つのページに入っています", position[key], "pages")
                    )
                placed[key] = page.key
            if page.is_exit and any(
                spec.by_key.get(k, None) is not None and spec.by_key[k].is_input for k in page.fields
            ):
                problems.append(
                    FormProblem(f"終了ページ「{page.title or page.key}」には、質問を入れられません")
                )
        for f in spec.fields:
            if f.key not in placed:
                problems.append(
                    FormProblem(
                        f"{_where(spec, f.key)}がどのページにも入っていません", position[f.key], "pages"
                    )
                )
    earlier: set[str] = set()
    for number, page in enumerate(pages, start=1):
        owner = f"ページ「{page.title}」" if page.title else f"{number}ページ目"
        for condition in page.show_if:
            message = _check_condition(spec, condition, earlier, owner)
            if message:
                problems.append(FormProblem(message))
        for key in page.fields:
            f = spec.by_key.get(key)
            if f is None:
                continue
            for condition in f.show_if:
                message = _check_condition(spec, condition, earlier, f"「{f.label}」")
                if message:
                    problems.append(FormProblem(message, position[key], "show_if", message))
            earlier.add(key)
        for rule in page.skip_to:
            for condition in rule.when:
                message = _check_condition(spec, condition, earlier, f"{owner}の移動")
                if message:
                    problems.append(FormProblem(message))
            target = index.get(rule.goto)
            if target is None:
                problems.append(
                    FormProblem(f"{owner}の移動先のページ「{rule.goto}」がありません（削除されたページ）")
                )
            elif target <= index[page.key]:
                problems.append(
                    FormProblem(
                        f"{owner}の移動先は、このページより後のページにしてください"
                        "（前に戻ると、同じページがくり返されます）"
                    )
                )
    if not problems and not _finishable(pages, index):
        problems.append(
            FormProblem(
                "どの答え方をしても終了ページに着くため、申請を最後まで送れません。ページの移動を見直してください"
            )
        )
    return problems
