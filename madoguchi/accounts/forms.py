"""Forms of the staff pages: they read and explain the input; the rules live in accounts/services.py.

Messages are the services' own (one text per mistake, wherever it is caught). Django's check for NUL
characters is kept but says what it means: its Japanese translation reads 何か文字を入力してください.
"""

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import get_language, gettext, gettext_lazy

from madoguchi.accounts import services
from madoguchi.accounts.models import Role

CONTROL_CHARACTERS = gettext_lazy(
    "使えない文字（改行・タブなどの制御文字）が含まれています。取り除いてください"
)
CHOOSE_ROLE = gettext_lazy("役割を選んでください")


def _explain_nul_characters(fields) -> None:
    for field in fields.values():
        field.validators = [
            ProhibitNullCharactersValidator(message=CONTROL_CHARACTERS)
            if isinstance(v, ProhibitNullCharactersValidator)
            else v
            for v in field.validators
        ]


class _StaffForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _explain_nul_characters(self.fields)

    @staticmethod
    def _clean_with(function, value, **kwargs):
        try:
            return function(value, **kwargs)
        except services.StaffError as exc:
            raise forms.ValidationError(str(exc)) from exc


def _departments_field(organization, departments) -> forms.MultipleChoiceField:
    wrong = gettext("選べるのは%(organization)sの所属だけです。一覧から選び直してください") % {
        "organization": organization.name
    }
    # The organization's own 所属 only: any other id (a forged one) is an invalid choice, explained.
    return forms.MultipleChoiceField(
        required=False,
        choices=[(str(d.pk), d.name) for d in departments],
        error_messages={"invalid_choice": wrong, "invalid_list": wrong},
    )


class MembershipForm(_StaffForm):
    role = forms.ChoiceField(
        choices=Role.choices, error_messages={"required": CHOOSE_ROLE, "invalid_choice": CHOOSE_ROLE}
    )

    def __init__(self, *args, organization, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["departments"] = _departments_field(organization, departments)


class InviteForm(MembershipForm):
    email = forms.CharField(
        strip=False,
        error_messages={
            "required": gettext_lazy("メールアドレスを入力してください（例：taro@city.example.lg.jp）")
        },
    )
    name = forms.CharField(strip=False, error_messages={"required": gettext_lazy("氏名を入力してください")})

    field_order = ["email", "name", "role", "departments"]

    def clean_email(self) -> str:
        return self._clean_with(services.normalize_staff_email, self.cleaned_data["email"])

    def clean_name(self) -> str:
        return self._clean_with(services.normalize_staff_name, self.cleaned_data["name"])


class PasswordResetRequestForm(_StaffForm):
    """The forgotten-password form. Its save() has PasswordResetView's signature and ignores the options:
    the link, the language and the outbox are the service's."""

    email = forms.CharField(
        strip=False,
        error_messages={
            "required": gettext_lazy("メールアドレスを入力してください（例：taro@city.example.lg.jp）")
        },
    )

    def clean_email(self) -> str:
        return self._clean_with(
            services.normalize_staff_email, self.cleaned_data["email"], max_length=services.EMAIL_MAX_LENGTH
        )

    def save(self, **_options) -> None:
        services.request_password_reset(email=self.cleaned_data["email"], language=get_language() or "ja")


class StaffSetPasswordForm(SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _explain_nul_characters(self.fields)
