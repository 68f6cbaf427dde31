"""{% footer_links %}: the 利用規約・個人情報の取扱い・アクセシビリティ・お問い合わせ links of a page's footer.

A resident page of an organization (its context holds `organization`) shows that organization's links, each
falling back to this system's own page; every other page shows this system's pages.
"""

from django import template

from madoguchi.organizations.models import Organization
from madoguchi.organizations.pages import footer_links as links_of

register = template.Library()


@register.inclusion_tag("organizations/_footer_links.html", takes_context=True)
def footer_links(context) -> dict:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    organization = context.get("organization")
    if not isinstance(organization, Organization) or getattr(match, "namespace", "") != "public":
        organization = None  # staff pages speak for the system, not for one organization
    return {"links": links_of(organization), "organization": organization}
