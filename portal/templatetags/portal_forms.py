"""Form rendering helpers for the portal's form partials (templates/portal/_field.html)."""

from django import template

register = template.Library()


@register.simple_tag
def field_widget(field):
    """The field's widget, described by its help text and its errors (``aria-describedby``),
    so that a screen reader reads the error with the field (WCAG 3.3.1, 1.3.1)."""
    ids = [field.field.widget.attrs.get("aria-describedby", "")]
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_errors")
    described_by = " ".join(i for i in ids if i)
    return field.as_widget(attrs={"aria-describedby": described_by} if described_by else None)
