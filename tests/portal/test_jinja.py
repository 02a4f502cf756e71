"""portal.jinja: the Jinja2 tables of the list pages answer as the Django templates did —
the same translations, links, dates and escaping (make bench, S8)."""

import datetime
import functools
import re

import pytest
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString
from markupsafe import Markup

from portal.jinja import fill, local_date, translator, url
from tests.contacts.factories import ContactFactory


def django_render(source: str, **context) -> str:
    return engines["django"].from_string(source).render(context)


def test_fill_keeps_the_translations_markup_and_escapes_the_values():
    """S8: ``|fill`` is ``{% blocktranslate with %}``: markup of the catalogue stays,
    the values are escaped."""
    text = fill("Change<span class=x> %(person)s</span>", person="<b>Eve</b> & Co")
    assert str(text) == "Change<span class=x> &lt;b&gt;Eve&lt;/b&gt; &amp; Co</span>"
    assert str(fill("100%% of %(n)s", n=3)) == "100% of 3"


@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_translator_answers_in_the_active_language(language):
    """Every UI string is translatable: the memo is kept per language."""
    with translation.override(language):
        translate = translator()
        expected = translation.gettext("Contacts")
        assert translate("Contacts") == expected
        assert translate("Contacts") == expected  # from the memo
        assert translate("no such message") == "no such message"


def test_url_is_djangos_reverse():
    assert url("contacts:contact_update", customer=100001, contact=7) == reverse(
        "contacts:contact_update", kwargs={"customer": 100001, "contact": 7}
    )


@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_date_is_djangos_filter_in_local_time(language, settings):
    """A time just before midnight UTC is the next day in Berlin, as Django shows it."""
    settings.TIME_ZONE = "Europe/Berlin"
    moment = datetime.datetime(2026, 3, 31, 23, 30, tzinfo=datetime.UTC)
    with translation.override(language):
        for name in ("SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT", "DATE_FORMAT"):
            expected = django_render("{{ d|date:f }}", d=moment, f=name)
            assert local_date(moment, name) == expected
        assert local_date(datetime.date(2026, 4, 1), "SHORT_DATE_FORMAT") == django_render(
            '{{ d|date:"SHORT_DATE_FORMAT" }}', d=datetime.date(2026, 4, 1)
        )
    assert local_date(None, "SHORT_DATE_FORMAT") == ""
    assert local_date(moment, "j") == "1"  # 1 April in Berlin


def test_jinja_include_escapes_and_uses_the_pages_csrf_token():
    """S8, CSRF everywhere: the included table escapes what it shows, and its forms carry
    the page's own token."""
    request = RequestFactory().get("/")
    source = '{% load jinja %}{% csrf_token %}{% jinja_include "portal/account_table.html" %}'
    account = type(
        "Account",
        (),
        {
            "name": "<script>x</script>",
            "description": "a & b",
            "pk": 1,
            "customer": type("Customer", (), {"number": 10001})(),
            "get_kind_display": lambda self: "Web",
            "get_status_display": lambda self: "active",
        },
    )()
    html = engines["django"].from_string(source).render({"accounts": [account]}, request)
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert "a &amp; b" in html
    assert f'href="{reverse("portal:account_detail", args=[10001, 1])}"' in html


@pytest.mark.django_db
def test_contacts_table_forms_carry_the_pages_token(client_for, owner, customer):
    """CSRF everywhere: every form of the contacts page, those of its Jinja2 table
    included, carries the page's one token; a contact's name is escaped (S8)."""
    ContactFactory(customer=customer, name="<b>Bold</b>", primary=True)
    ContactFactory(customer=customer, name="Other", pending=True)
    response = client_for(owner).get(
        reverse("contacts:contact_list", kwargs={"customer": customer.number})
    )
    body = response.content.decode()
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert len(tokens) >= 4  # sign-out, language, the table's forms, the settings form
    assert len(set(tokens)) == 1  # the page's one token, in the table's forms too
    assert "&lt;b&gt;Bold&lt;/b&gt;" in body and "<b>Bold</b>" not in body


@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_dates_of_one_render_answer_as_the_date_filter(language, settings):
    """The per-render ``|date`` (time zone and formats read once) shows what
    ``local_date`` shows: aware and naive times, dates, nothing, an unknown format."""
    from portal.jinja import Dates

    settings.TIME_ZONE = "Europe/Berlin"
    aware = datetime.datetime(2026, 3, 31, 23, 30, tzinfo=datetime.UTC)
    values = [aware, aware.replace(tzinfo=None), datetime.date(2026, 4, 1), None, ""]
    with translation.override(language):
        dates = Dates()
        for value in values:
            for name in ("SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT", None, "j. F Y"):
                if (
                    isinstance(value, datetime.date)
                    and not isinstance(value, datetime.datetime)
                    and name == "SHORT_DATETIME_FORMAT"
                ):
                    continue  # a time code on a date is an error in both
                assert dates(value, name) == local_date(value, name), (value, name)


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "two\nlines",
        "windows\r\nlines\rand old Mac",
        "<script>alert('x')</script> & \"quotes\"\n\n",
        "",
        SafeString("<b>already safe</b>\nline"),
    ],
)
def test_linebreaksbr_is_djangos_under_autoescape(text):
    """A message's text in the conversation (H3): escaped, line breaks as <br>, as
    Django's filter gives it."""
    from django.template.defaultfilters import linebreaksbr as django_linebreaksbr

    from portal.jinja import linebreaksbr

    ours = linebreaksbr(text)
    assert isinstance(ours, Markup)
    assert str(ours) == str(django_linebreaksbr(text, autoescape=True))


def test_calls_answer_as_jinjas_own():
    """The tables' shorter call (portal.jinja._Context) answers as Jinja2's: plain
    functions, methods, builtins and partials with their arguments inside loops, callables
    marked ``pass_context`` (a marked partial too) get the context, callable objects are
    called, and a callable raising StopIteration is undefined."""
    from jinja2 import Environment, pass_context

    from portal.jinja import _Context

    class Box:
        def __init__(self, n):
            self.n = n

        def twice(self, plus=0):
            return self.n * 2 + plus

    class Adder:
        def __call__(self, a, b):
            return a + b

    @pass_context
    def seen(context, name):
        return context.get(name)

    def stop():
        raise StopIteration

    def scaled(n, by):
        return n * by

    @pass_context
    def from_context(context, name):
        return context.get(name)

    marked = functools.partial(from_context)
    marked.jinja_pass_arg = from_context.jinja_pass_arg

    source = (
        "{% for b in boxes %}{% set k = b.n %}{{ b.twice(plus=1) }},{{ f(k) }},"
        "{{ add(k, 1) }},{{ seen('k') }},{{ seen('title') }},{{ len(title) }},"
        "{{ triple(k) }},{{ marked('k') }};{% endfor %}"
        "{{ stop() is defined }}"
    )
    values = {
        "boxes": [Box(1), Box(2)],
        "f": lambda x: -x,
        "add": Adder(),
        "seen": seen,
        "stop": stop,
        "title": "abc",
        "len": len,
        "triple": functools.partial(scaled, by=3),
        "marked": marked,
    }
    ours = Environment(autoescape=True)
    ours.context_class = _Context
    expected = Environment(autoescape=True).from_string(source).render(values)
    assert ours.from_string(source).render(values) == expected
    assert expected == "3,-1,2,1,abc,3,3,1;5,-2,3,2,abc,3,6,2;False"
    assert engines["jinja2"].env.context_class is _Context
