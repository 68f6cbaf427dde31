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


REQUIRED_TEXT = gettext_lazy("入力してください。")
REQUIRED_CHOICE = gettext_lazy("選んでください。")
REQUIRED_TICK = gettext_lazy("チェックを入れてください。")


class OwnWordsMixin:
    """For a staff form: a required box left empty says 「入力してください。」 (a choice 「選んでください。」, a
    checkbox 「チェックを入れてください。」) instead of Django's 「このフィールドは必須です。」; the summary puts the
    box's name before it. A message a field sets itself is kept. Applied as the form is checked, so it
    covers fields a form adds in its own __init__ too."""

    def full_clean(self):
        generic = forms.Field.default_error_messages["required"]
        for field in self.fields.values():
            if field.error_messages.get("required") is not generic:
                continue
            if isinstance(field, forms.BooleanField):
                field.error_messages["required"] = REQUIRED_TICK
            elif isinstance(field, forms.ChoiceField):  # a ModelChoiceField and a multiple choice too
                field.error_messages["required"] = REQUIRED_CHOICE
            else:
                field.error_messages["required"] = REQUIRED_TEXT
        super().full_clean()
