"""The one place that reads and writes a submission's answers (and the 補正前の回答 kept beside them).

Answers are personal data: they are stored encrypted with the organization's data key (lib/envelope.py,
{"format": 2, "enc": …}). Rows written before encryption existed ({"format": 1, "answers": …}) are still
read, and `manage.py rotate_keys --reencrypt` encrypts them.

Errors: envelope.KeyUnavailable when stored answers do not decrypt with any key of the organization.
"""

from typing import Any

from madoguchi.lib import envelope

FORMAT_VERSION = envelope.ANSWERS_FORMAT


def stored_form(organization_id: int, answers: dict[str, Any], *, keys: envelope.Keys | None = None) -> dict:
    """What answers_data holds for `answers` ({field key: value}): for the paths that write rows without
    a model instance (single_statement, seeding). `keys`: see envelope.encrypt_json."""
    return envelope.encrypt_json(organization_id, answers, keys=keys)


def write_answers(submission, answers: dict[str, Any]) -> None:
    submission.answers_data = stored_form(submission.organization_id, answers)


def stored_answers(organization_id: int, data) -> dict[str, Any]:
    """{field key: value} from an answers_data value of either format (for migrations, which have no
    model methods)."""
    data = data or {}
    if envelope.is_encrypted(data):
        return dict(envelope.decrypt_json(organization_id, data))
    return dict(data.get("answers", {}))  # format 1: stored before encryption existed


def read_answers(submission) -> dict[str, Any]:
    return stored_answers(submission.organization_id, submission.answers_data)


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
    return stored_answers(revision.organization_id, revision.answers_data)
