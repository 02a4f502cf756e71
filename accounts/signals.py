"""Audit of failed sign-ins that never reach a view (django-axes lockouts)."""

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from accounts.audit import audit


@receiver(user_login_failed)
def record_login_failure(sender, credentials, request=None, **kwargs):
    # Never the password: only the address that was tried.
    audit("login.failed", request=request, summary=str(credentials.get("username", ""))[:100])
