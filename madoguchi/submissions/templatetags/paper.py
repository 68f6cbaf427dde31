"""{% paper_case_files submission as files %}: a case's attachments for the staff case page, each with
its field's label and 補正前 / 補正後 after a correction (submissions.paper.case_files)."""

from django import template

from madoguchi.submissions import paper

register = template.Library()


@register.simple_tag
def paper_case_files(submission) -> list[dict]:
    """[{"attachment": Attachment, "label": str, "state": "before"|"after"|"current", "state_label": str}]"""
    return [
        {
            "attachment": f.attachment,
            "label": f.label,
            "state": f.state,
            "state_label": paper.CASE_FILE_STATES[f.state],
        }
        for f in paper.case_files(submission)
    ]
