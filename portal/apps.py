from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        # The Django admin for staff requires two-factor (S14); its app list is kept per
        # set of permissions (portal.admin_site).
        from django.contrib import admin

        from portal.admin_site import PortalAdminSite

        admin.site.__class__ = PortalAdminSite
        admin.site.site_header = "Customer portal — staff"
        # Staff sign in where everyone does (password, then TOTP, with the session record
        # the session guard expects); the admin's own login page only sends them there.
        admin.site.login = _admin_login
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from accounts import signals  # noqa: F401
        from portal.pgsettings import session_settings
        from portal.pgtypes import use_c_timestamptz_loader
        from portal.prepared import forget_compiled

        # Compiled queries name content types and permissions by id (portal.prepared).
        post_migrate.connect(forget_compiled, dispatch_uid="portal.prepared.forget_compiled")
        # Timestamps parsed by psycopg's C build, as Django's loader answers them.
        connection_created.connect(
            use_c_timestamptz_loader, dispatch_uid="portal.pgtypes.use_c_timestamptz_loader"
        )
        # Memoize off, prepared statements' generic plans (portal.pgsettings).
        connection_created.connect(
            session_settings, dispatch_uid="portal.pgsettings.session_settings"
        )


def _admin_login(request, extra_context=None):
    from urllib.parse import urlencode

    from django.shortcuts import redirect
    from django.urls import reverse

    target = request.GET.get("next") or reverse("admin:index")
    if request.user.is_authenticated:
        # Signed in but not verified with a code: the code step, then back to the admin.
        return redirect(f"{reverse('accounts:otp_verify')}?{urlencode({'next': target})}")
    return redirect(f"{reverse('accounts:login')}?{urlencode({'next': target})}")
