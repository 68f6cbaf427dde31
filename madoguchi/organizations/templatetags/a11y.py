"""{{ bf|described }}: a staff form's input, read with its help text and its error message.

Django names the error "<id>_error" in the aria-describedby it writes; the staff templates show the error as
"<id>-error" (staff/builder/_input.html), so the input names both ids that are really on the page. An
aria-describedby the form set itself is kept as it is.
"""

from django import template

register = template.Library()


@register.filter
def described(bound_field) -> str:
    if bound_field.field.widget.attrs.get("aria-describedby"):
        return str(bound_field)
    ids = []
    if bound_field.help_text:
        ids.append(f"{bound_field.auto_id}_helptext")
    if bound_field.errors:
        ids.append(f"{bound_field.auto_id}-error")
    if not ids:
        return str(bound_field)
    return bound_field.as_widget(attrs={"aria-describedby": " ".join(ids)})
