"""Mail goes out in the recipient's language (portal.mail.queue(language=...))."""

import pytest
from django.core import mail

from accounts import services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_password_reset_mail_in_german(client, django_capture_on_commit_callbacks):
    """The person asking may use any language; the mail follows their login's."""
    UserFactory(email="greta@example.com", first_name="Greta", language="de")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password/reset/", {"email": "greta@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    message = mail.outbox[-1]
    assert message.subject == "Passwort für das Kundenportal zurücksetzen"
    assert "Wenn Sie das nicht angefordert haben" in message.body


def test_set_password_mail_in_hungarian(django_capture_on_commit_callbacks):
    user = UserFactory(email="eszter@example.com", first_name="Eszter", language="hu")
    with django_capture_on_commit_callbacks(execute=True):
        services.send_set_password_mail(user)
    message = mail.outbox[-1]
    assert message.subject == "Az Ön ügyfélportálos fiókja"
    assert message.body.startswith("Tisztelt Eszter!")
    assert "három napig és csak egyszer" in message.body
