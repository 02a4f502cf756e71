"""portal.choices: a choice field's label as Django gives it, from a dict built once per
field and language (make bench: the dashboard's 50 labels per view)."""

import pytest
from django.db import models
from django.utils import translation

from accounts.models import HostingAccount
from billing.models import Contract, Invoice
from delegation.models import GrantEvent
from helpdesk.models import Message, Ticket
from hosting.models import AccountEvent
from portal import choices

MIXED_IN = [HostingAccount, AccountEvent, Contract, Invoice, Ticket, Message, GrantEvent]


def _choice_fields(model):
    return [f for f in model._meta.concrete_fields if f.choices]


@pytest.mark.parametrize("model", MIXED_IN)
@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_every_label_is_djangos_in_every_language(model, language):
    assert issubclass(model, choices.ChoiceLabels)
    fields = _choice_fields(model)
    assert fields, model
    with translation.override(language):
        for field in fields:
            for value, _label in field.flatchoices:
                obj = model(**{field.attname: value})
                ours = getattr(obj, f"get_{field.name}_display")()
                assert ours == models.Model._get_FIELD_display(obj, field)
            assert (field, language) in choices._per_language  # built once, kept


def test_label_follows_the_language_of_each_call():
    """One dict per language: each call answers in its request's language."""
    ticket = Ticket(status=Ticket.Status.WAITING)
    with translation.override("en"):
        english = ticket.get_status_display()
    with translation.override("de"):
        german = ticket.get_status_display()
    with translation.override("en"):
        assert ticket.get_status_display() == english
    assert english != german
    with translation.override("de"):
        assert german == str(Ticket.Status.WAITING.label)


def test_value_outside_the_choices_is_shown_as_it_is():
    """As Django: an unknown stored value is shown, not hidden or an error."""
    assert HostingAccount(kind="legacy-kind").get_kind_display() == "legacy-kind"
    assert Invoice(state=None).get_state_display() is None
