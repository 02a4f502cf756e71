from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        # The Django admin for staff requires two-factor (S14).
        from django.contrib import admin
        from django_otp.admin import OTPAdminSite

        admin.site.__class__ = OTPAdminSite
        admin.site.site_header = "Customer portal — staff"
        from accounts import signals  # noqa: F401
