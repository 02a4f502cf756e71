"""portal.links: the {% url %} tag and ``reverse`` give Django's answer for every named
page of the portal, faster for whole numbers (make bench)."""

import pytest
from django.template import Context, RequestContext, engines
from django.test import RequestFactory
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, set_script_prefix
from django.urls import reverse as django_reverse
from django.utils import translation

from portal import links


def _named_pages(resolver=None, namespace=""):
    """(view name, its argument names) of every named URL pattern, namespaces included."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            outer = list(entry.pattern.regex.groupindex)
            for name, params in _named_pages(entry, inner):
                yield name, outer + params
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", list(entry.pattern.regex.groupindex)


def _both(viewname, **kwargs):
    """Django's answer and ours: the URL, or the exception's type."""
    answers = []
    for reverse in (django_reverse, links.reverse):
        try:
            answers.append(reverse(viewname, kwargs=kwargs))
        except NoReverseMatch as error:
            answers.append(type(error))
    return answers


def test_every_named_page_gets_djangos_url():
    pages = list(_named_pages())
    assert len(pages) > 100
    for viewname, params in pages:
        for number in (0, 7, 100_003, 2**40):
            django, ours = _both(viewname, **{param: number for param in params})
            assert ours == django, viewname
        # Again, from what was learnt: the same answers.
        django, ours = _both(viewname, **{param: 42 for param in params})
        assert ours == django, viewname
    # Most were answered from what was learnt, not handed to Django.
    assert sum(learnt is not None for learnt in links._learnt.values()) > 100


def test_positional_arguments_and_the_order_of_keywords():
    assert links.reverse("portal:dashboard", args=[100_003]) == "/c/100003/"
    url = django_reverse("contacts:contact_update", kwargs={"customer": 5, "contact": 9})
    assert links.reverse("contacts:contact_update", kwargs={"contact": 9, "customer": 5}) == url
    assert links.reverse("contacts:contact_update", kwargs={"customer": 5, "contact": 9}) == url


@pytest.mark.parametrize("value", ["12", "K-1", -1, True, 1.5, None])
def test_anything_but_a_whole_number_is_djangos_to_answer(value):
    """Text, negative numbers, booleans and the like go to Django: the same URL or the
    same NoReverseMatch."""
    django, ours = _both("portal:dashboard", customer=value)
    assert ours == django


def test_unknown_view_name_raises_as_django_does():
    with pytest.raises(NoReverseMatch):
        links.reverse("no-such-page", kwargs={"customer": 1})
    with pytest.raises(NoReverseMatch):
        links.reverse("portal:dashboard", kwargs={"customer": 1, "extra": 2})


def test_script_prefix_is_kept():
    """A portal served under a path prefix: each prefix learns its own links."""
    try:
        set_script_prefix("/portal/")
        assert links.reverse("portal:dashboard", args=[3]) == "/portal/c/3/"
        assert links.reverse("portal:dashboard", args=[4]) == django_reverse(
            "portal:dashboard", args=[4]
        )
    finally:
        set_script_prefix("/")
    assert links.reverse("portal:dashboard", args=[3]) == "/c/3/"


def test_url_tag_renders_as_djangos():
    engine = engines["django"]
    template = engine.from_string(
        "{% url 'portal:dashboard' customer=n %}|{% url 'portal:dashboard' n %}|"
        "{% url 'portal:dashboard' customer=text as link %}{{ link }}|"
        "{% url 'no-such-page' as nothing %}[{{ nothing }}]"
    )
    assert template.render({"n": 7, "text": "8"}) == "/c/7/|/c/7/|/c/8/|[]"
    with pytest.raises(NoReverseMatch):
        engine.from_string("{% url 'no-such-page' %}").render({})


def test_url_tag_is_the_portals_in_every_template():
    """The builtin replaces Django's tag for every template (settings' builtins)."""
    template = engines["django"].from_string("{% url 'portal:dashboard' 1 %}")
    nodes = template.template.nodelist
    assert type(nodes[0]) is links.URLNode
    request = RequestFactory().get("/")
    assert template.render({}, request) == "/c/1/"
    assert engines["django"].from_string("{% url 'portal:dashboard' 1 %}").template.render(
        RequestContext(request, {})
    ) == template.template.render(Context({}))


@pytest.mark.parametrize("language", ["en", "de"])
def test_reverser_answers_as_reverse_for_one_render(language):
    """The per-render reverser (the Jinja2 tables' ``url``) gives Django's answers, for
    learnable links and for the rest (text arguments go to Django's reverse)."""
    from portal.links import reverser

    with translation.override(language):
        url = reverser()
        for kwargs in ({"customer": 100001, "contact": 7}, {"customer": 100001, "contact": 8}):
            assert url("contacts:contact_update", **kwargs) == django_reverse(
                "contacts:contact_update", kwargs=kwargs
            )
        assert url("portal:home") == django_reverse("portal:home")
        with pytest.raises(NoReverseMatch):
            url("contacts:contact_update", customer="x", contact=1)


@pytest.mark.django_db
def test_customer_navigation_links_are_djangos_and_skip_missing_pages(owner, customer, monkeypatch):
    """The customer navigation (every customer page): each entry the policy allows links
    to Django's URL for the customer, the current page is marked, and an entry whose page
    does not exist is left out."""
    from portal import navigation, policy

    access = policy.customer_access(owner, customer)
    entries = [
        *navigation.CUSTOMER_NAV,
        ("portal:no_such_page", "Nowhere", policy.Action.VIEW_CUSTOMER),
    ]
    monkeypatch.setattr(navigation, "CUSTOMER_NAV", entries)
    contacts = django_reverse("contacts:contact_list", kwargs={"customer": customer.number})
    items = navigation.customer_nav(access, contacts + "archived/")
    expected = [
        django_reverse(name, kwargs={"customer": customer.number})
        for name, _label, action in navigation.CUSTOMER_NAV[:-1]
        if access.allows(action)
    ]
    assert [item["url"] for item in items] == expected
    assert [item["url"] for item in items if item["active"]] == [contacts]
