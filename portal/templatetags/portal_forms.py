"""Form rendering helpers for the portal's form partials (templates/portal/_field.html)."""

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import translation

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


# The HTML of blank forms, by form class, language and initial values (blank_form);
# forgotten when a setting changes (tests: a help text from settings).
_blank_forms: dict[tuple, str] = {}


@receiver(setting_changed)
def _forget_blank_forms(**_signal):
    _blank_forms.clear()


def _blank_key(form) -> tuple | None:
    """The key of ``form``'s blank HTML, or None where it must be rendered each time."""
    if form.is_bound or not getattr(form, "blank_html_fixed", False):
        return None
    try:
        return (type(form), translation.get_language(), frozenset(form.initial.items()))
    except TypeError:  # an initial value that cannot be a key
        return None


@register.simple_tag
def blank_form(form):
    """``portal/_form.html`` for ``form``; for a form class that sets ``blank_html_fixed``
    and an unbound form, rendered once per class, language and initial values. Such a
    form's blank HTML depends on nothing else: no choices read at request time, help texts
    from settings (the ticket's reply form under 50 messages, make bench: 0.4–0.6 ms of
    Django's form and widget templates per view; the contacts page's invoice setting).
    Bound forms (errors, the user's input) are always rendered."""
    key = _blank_key(form)
    html = _blank_forms.get(key) if key is not None else None
    if html is None:
        html = render_to_string("portal/_form.html", {"form": form})
        if key is not None:
            _blank_forms[key] = html
    return html
