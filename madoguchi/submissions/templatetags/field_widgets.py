"""What the form's field template needs beyond the field's kept input: the boxes of a split date, the
reading of a name, and the 町域 a postal code offers."""

from django import template

from madoguchi.submissions import intake

register = template.Library()


@register.filter
def date_boxes(value) -> dict:
    """{"era", "year", "month", "day"} of a split date's kept input."""
    return intake.date_parts(value)


@register.filter
def reading_boxes(value) -> tuple[str, str]:
    """(family, given) of a name's reading as kept."""
    return intake.reading_parts(value)


@register.simple_tag
def date_eras() -> tuple[str, ...]:
    return intake.DATE_ERAS


@register.simple_tag
def address_choices(postal: str, address: str) -> list:
    """The 町域 to choose from for a postal code that names several (see intake.address_choices)."""
    return intake.address_choices(postal, address)
