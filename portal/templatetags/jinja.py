"""``{% jinja_include "contacts/contact_table.html" %}``: a Jinja2 template of ``jinja_templates/``
rendered with the Django template's context (``portal.jinja``)."""

from django import template
from django.template import engines
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from portal.jinja import Dates, translator
from portal.links import current_app_of, reverser

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja_include(context, template_name: str, **extra):
    """The Jinja2 template ``template_name`` with this context (and ``extra``). Jinja2
    autoescapes what it shows, so its output goes into the page as it is."""
    values = context.flatten()
    values.update(extra)
    values["_"] = translator()
    values["_dates"] = Dates()  # the table's |date
    values["url"] = reverser(current_app_of(values.get("request")))
    # The page's one CSRF token (Django's backend would mask a new one for each form).
    token = values.get("csrf_token")
    if token:
        values["csrf_input"] = format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token
        )
    jinja = engines["jinja2"].get_template(template_name).template
    return mark_safe(jinja.render(values))  # noqa: S308 - autoescaped by Jinja2
