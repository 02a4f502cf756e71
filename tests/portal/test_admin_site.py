"""The staff's admin site keeps its app list per set of permissions (portal.admin_site,
make bench): the same list Django builds, for every user, language and permission
change; built as Django builds it wherever an answer could depend on more."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory, override_settings
from django.utils import translation
from django_otp.admin import OTPAdminSite

from helpdesk.models import Ticket
from portal import admin_site
from portal.admin_site import PortalAdminSite
from tests.factories import TOTPDeviceFactory, UserFactory

pytestmark = pytest.mark.django_db


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _djangos(user, app_label=None):
    """Django's own app list for the portal's registry (django-otp's site)."""
    site = OTPAdminSite()
    site._registry = admin.site._registry
    return site.get_app_list(_request(user), app_label)


def _plain(app_list):
    """An app list with its lazy texts as text (comparable)."""
    return [
        {
            **app,
            "name": str(app["name"]),
            "models": [{**model, "name": str(model["name"])} for model in app["models"]],
        }
        for app in app_list
    ]


def _fresh(user):
    """The user as a new request reads it (no permission cache from an earlier one)."""
    return type(user).objects.get(pk=user.pk)


def _grant(user, *codenames, model=Ticket):
    content_type = ContentType.objects.get_for_model(model)
    user.user_permissions.add(
        *Permission.objects.filter(content_type=content_type, codename__in=codenames)
    )


def test_h4_the_portals_admin_site_keeps_its_app_list():
    """H4: every registered model admin answers from the user's permissions (Django's
    methods or a constant answer), so the portal's site keeps its list."""
    assert isinstance(admin.site, PortalAdminSite)
    for model_admin in admin.site._registry.values():
        assert admin_site.answers_from_permissions(model_admin), type(model_admin)
    assert admin_site.backends_answer_from_permissions()
    staff = UserFactory(is_staff=True)
    _grant(staff, "view_ticket")
    assert admin.site._app_list_key(_request(_fresh(staff)), None) is not None


def test_h4_the_kept_app_list_is_djangos_for_each_set_of_permissions():
    """H4: the kept list is Django's for a viewer, a changer, a superuser and an inactive
    user, each seen twice (the second time from the kept list)."""
    viewer = UserFactory(is_staff=True)
    _grant(viewer, "view_ticket")
    changer = UserFactory(is_staff=True)
    _grant(changer, "view_ticket", "change_ticket")
    superuser = UserFactory(staff=True)
    inactive = UserFactory(is_staff=True, inactive=True)
    _grant(inactive, "view_ticket")
    site = admin.site
    for user in (viewer, changer, superuser, inactive, viewer, changer, superuser, inactive):
        expected = _plain(_djangos(_fresh(user)))
        assert _plain(site.get_app_list(_request(_fresh(user)))) == expected
        assert _plain(site.get_app_list(_request(_fresh(user)), "helpdesk")) == _plain(
            _djangos(_fresh(user), "helpdesk")
        )
    viewers = site.get_app_list(_request(_fresh(viewer)))
    [helpdesk] = [app for app in viewers if app["app_label"] == "helpdesk"]
    assert [m["perms"] for m in helpdesk["models"] if m["object_name"] == "Ticket"] == [
        {"add": False, "change": False, "delete": False, "view": True}
    ]
    assert site.get_app_list(_request(_fresh(inactive))) == []
    assert len(site.get_app_list(_request(_fresh(superuser)))) > len(viewers)


def test_h4_a_permission_given_or_taken_shows_at_the_next_view():
    """H4: the list follows the permissions read at each request."""
    staff = UserFactory(is_staff=True)
    _grant(staff, "view_ticket")
    site = admin.site
    before = _plain(site.get_app_list(_request(_fresh(staff))))
    assert {app["app_label"] for app in before} == {"helpdesk"}
    _grant(staff, "view_user", model=type(staff))
    after = _plain(site.get_app_list(_request(_fresh(staff))))
    assert after == _plain(_djangos(_fresh(staff)))
    assert {app["app_label"] for app in after} == {"accounts", "helpdesk"}
    staff.user_permissions.clear()
    assert site.get_app_list(_request(_fresh(staff))) == []


def test_h4_the_app_list_follows_the_language():
    """H4: names (and their order) in the language of the request."""
    staff = UserFactory(staff=True)
    for language in ("de", "hu", "en", "de"):
        with translation.override(language):
            assert _plain(admin.site.get_app_list(_request(_fresh(staff)))) == _plain(
                _djangos(_fresh(staff))
            )


def test_h4_a_changed_copy_leaves_the_kept_list_alone():
    staff = UserFactory(staff=True)
    first = admin.site.get_app_list(_request(_fresh(staff)))
    expected = _plain(_djangos(_fresh(staff)))
    first[0]["models"][0]["perms"]["view"] = "changed"
    first[0]["models"].clear()
    first.clear()
    assert _plain(admin.site.get_app_list(_request(_fresh(staff)))) == expected


class _RequestReadingAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.GET.get("look") == "yes"


class _ConstantAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        """Tickets come from customers."""
        return False


def test_h4_an_admin_that_reads_more_than_permissions_is_asked_every_view():
    """H4: a model admin whose answer may depend on the request: Django's list, built
    for every view."""
    site = PortalAdminSite(name="reading")
    site.register(Ticket, _RequestReadingAdmin)
    staff = UserFactory(staff=True)
    assert site._app_list_key(_request(staff), None) is None
    looking = RequestFactory().get("/admin/", {"look": "yes"})
    looking.user = staff
    assert site.get_app_list(_request(staff)) == []
    assert [app["app_label"] for app in site.get_app_list(looking)] == ["helpdesk"]

    constant = PortalAdminSite(name="constant")
    constant.register(Ticket, _ConstantAdmin)
    assert constant._app_list_key(_request(staff), None) is not None


def test_h4_reads_nothing_tells_constant_answers():
    def constant(self, request, obj=None):
        """A docstring."""
        return False

    def reads_request(self, request, obj=None):
        return request.user.is_superuser

    def reads_object(self, request, obj=None):
        return obj is None

    def reads_global(self, request):
        return Ticket is not None

    flag = True

    def reads_closure(self, request):
        return flag

    assert admin_site.reads_nothing(constant)
    for function in (reads_request, reads_object, reads_global, reads_closure):
        assert not admin_site.reads_nothing(function), function.__name__
    assert not admin_site.reads_nothing(len)


class _AnsweringBackend:
    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        return perm == "helpdesk.view_ticket"

    def has_module_perms(self, user_obj, app_label):
        return app_label == "helpdesk"


@override_settings(
    AUTHENTICATION_BACKENDS=[
        "django.contrib.auth.backends.ModelBackend",
        "tests.portal.test_admin_site._AnsweringBackend",
    ]
)
def test_h4_another_backend_makes_the_list_djangos_every_view():
    """H4: a backend that may answer from more than the user's permissions: no kept
    list."""
    staff = UserFactory(is_staff=True)
    assert not admin_site.backends_answer_from_permissions()
    assert admin.site._app_list_key(_request(staff), None) is None
    assert [app["app_label"] for app in admin.site.get_app_list(_request(staff))] == ["helpdesk"]


def test_h4_the_ticket_list_shows_the_sidebar_of_the_staff_members_permissions(client_for):
    """H4: a staff member's sidebar lists what they may see, at every view."""
    staff = UserFactory(is_staff=True)
    _grant(staff, "view_ticket")
    client = client_for(staff, device=TOTPDeviceFactory(user=staff))
    url = "/admin/helpdesk/ticket/"
    for _ in range(2):
        page = client.get(url).content.decode()
        assert 'class="model-ticket' in page
        assert "model-user" not in page
    _grant(staff, "view_user", model=type(staff))
    page = client.get(url).content.decode()
    assert "model-user" in page


def test_h4_a_model_registered_later_shows_in_the_list():
    site = PortalAdminSite(name="later")
    site.register(Ticket, _ConstantAdmin)
    staff = UserFactory(staff=True)
    assert [app["app_label"] for app in site.get_app_list(_request(staff))] == ["helpdesk"]
    site.register(type(staff))
    assert [app["app_label"] for app in site.get_app_list(_request(staff))] == [
        "accounts",
        "helpdesk",
    ]
