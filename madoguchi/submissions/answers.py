"""The one place that reads and writes a submission's answers.

Answers are personal data. Keeping every read and write here means encryption at rest (or a move to
another store) changes this module only.
"""

from typing import Any

FORMAT_VERSION = 1


def write_answers(submission, answers: dict[str, Any]) -> None:
    submission.answers_data = {"format": FORMAT_VERSION, "answers": answers}


def read_answers(submission) -> dict[str, Any]:
    data = submission.answers_data or {}
    return dict(data.get("answers", {}))
