"""Form fields shared by the staff pages, with their messages in the product's own words."""

from django import forms
from django.utils.translation import gettext_lazy

EMPTY_FILE = gettext_lazy("選んだファイルは空です（0バイト）。中身のあるファイルを選んでください。")


def upload_field(label, *, choose, help_text="") -> forms.FileField:
    """A required file box that says what to choose (``choose``, e.g. 「CSVファイルを選んでください。」) when no
    file came, and that a file of 0 bytes is empty, instead of Django's generic 「このフィールドは必須です。」."""
    field = forms.FileField(label=label, help_text=help_text)
    field.error_messages.update(
        {"required": choose, "missing": choose, "invalid": choose, "empty": EMPTY_FILE}
    )
    return field
