"""This system's own fixed pages for residents (アクセシビリティ方針, 利用規約, 個人情報の取扱い, an organization's
お問い合わせ), and the staff page where an organization's admin sets the four links of its residents' footer.

An organization may point each footer link to its own page (Organization.terms_url, privacy_url,
accessibility_url, contact_url); a blank link falls back to the page here (see `footer_links`).
"""

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from madoguchi.accounts import access
from madoguchi.organizations import services
from madoguchi.organizations.models import Organization


@dataclass(frozen=True)
class FooterLink:
    label: str
    url: str
    external: bool  # the organization's own page (another site or a path it chose)


def footer_links(organization: Organization | None) -> list[FooterLink]:
    """The links of a resident page's footer, in this order: 利用規約, 個人情報の取扱い, アクセシビリティ,
    お問い合わせ (the last only for a page of an organization). The organization's own link where it set one,
    else this system's page."""
    own = {
        name: getattr(organization, name, "") if organization else "" for name in services.FOOTER_LINK_FIELDS
    }
    links = [
        (gettext("利用規約"), own["terms_url"], reverse("public:terms")),
        (gettext("個人情報の取扱い"), own["privacy_url"], reverse("public:privacy")),
        (gettext("アクセシビリティ"), own["accessibility_url"], reverse("public:accessibility")),
    ]
    if organization is not None:
        links.append(
            (gettext("お問い合わせ"), own["contact_url"], reverse("public:contact", args=[organization.code]))
        )
    return [FooterLink(label, url or fallback, bool(url)) for label, url, fallback in links]


def accessibility_statement(request: HttpRequest) -> HttpResponse:
    return render(request, "organizations/accessibility.html")


def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "organizations/terms.html")


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "organizations/privacy.html")


def contact(request: HttpRequest, code: str) -> HttpResponse:
    organization = get_object_or_404(Organization, code=code, is_active=True)
    return render(request, "organizations/contact.html", {"organization": organization})


class FooterLinksForm(forms.Form):
    terms_url = forms.CharField(label=_("利用規約のページ"), required=False, max_length=1000)
    privacy_url = forms.CharField(label=_("個人情報の取扱いのページ"), required=False, max_length=1000)
    accessibility_url = forms.CharField(
        label=_("アクセシビリティ方針のページ"), required=False, max_length=1000
    )
    contact_url = forms.CharField(label=_("お問い合わせのページ"), required=False, max_length=1000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.strip = False  # check_footer_link says what is wrong with spaces inside
            field.help_text = _(
                "「https://」で始まるアドレスか、このサイトのページ（「/」で始まるパス）。空欄ならこのシステムの標準のページを表示します。"
            )
            field.widget = forms.URLInput(attrs={"class": "input", "inputmode": "url", "autocomplete": "url"})
            field.error_messages["max_length"] = _("300文字以内で入力してください。")

    def clean(self):
        cleaned = super().clean()
        for name in services.FOOTER_LINK_FIELDS:
            if name in cleaned:
                try:
                    cleaned[name] = services.check_footer_link(cleaned[name])
                except services.FooterLinkError as exc:
                    self.add_error(name, str(exc))
        return cleaned


@login_required
def organization_links(request: HttpRequest, code: str) -> HttpResponse:
    """住民向け画面の下部のリンク: the organization's admin only (others of the organization get 403,
    anyone else 404)."""
    organization = access.access_organization_for_user(request.user, code, access.ADMIN)
    initial = {name: getattr(organization, name) for name in services.FOOTER_LINK_FIELDS}
    form = FooterLinksForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.save_footer_links(organization=organization, actor=request.user, **form.cleaned_data)
        messages.success(request, gettext("リンクを保存しました。"))
        return redirect("staff:organization_links", code=code)
    return render(
        request,
        "staff/organization_links.html",
        {"organization": organization, "form": form, "links": footer_links(organization)},
        status=400 if form.errors else 200,
    )
