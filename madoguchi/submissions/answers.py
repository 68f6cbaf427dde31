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


def keep_revision(submission, *, at) -> None:
    """Keep the answers about to be replaced by a correction (補正), in the same store as the answers."""
    from madoguchi.submissions.models import AnswerRevision

    AnswerRevision.objects.create(
        organization_id=submission.organization_id,
        submission=submission,
        answers_data=submission.answers_data,
        replaced_at=at,
    )


def read_revision(revision) -> dict[str, Any]:
    data = revision.answers_data or {}
    return dict(data.get("answers", {}))
