"""The staff's admin site: django-otp's (two-factor required, S14), with its list of apps
and models worked out once per set of permissions.

Django's admin builds that list (the sidebar of every admin page, the index) on every
view: for each of the 29 registered models it asks the model admin whether the user may
see the module, view, change, add and delete, about 150 permission checks through all
authentication backends, and resolves each model's links (make bench: 1–2 ms of the
admin ticket search's 12 ms of Python a view).

Where every answer comes from the user's permissions alone, the list is the same for
everyone with the same permissions, active and superuser flags, in the same language and
under the same script prefix, and is kept per process under those. That holds when

- the authentication backends are Django's ``ModelBackend`` and backends that answer
  nothing without an object (django-guardian's object backend) or nothing at all (axes'
  standalone backend), and
- every model admin answers the permission questions with Django's own methods (which ask
  the user's permissions) or with a method that reads nothing, neither the request nor
  anything else (``return False``: the many read-only admins).

Otherwise, the list is built on every view, as Django builds it. The permissions are the
ones read at this request (``user.get_all_permissions()``): a permission taken away counts
from the next view on, as without the cache.
"""

from __future__ import annotations

import dis

from django.contrib import admin
from django.contrib.auth import get_backends
from django.contrib.auth.backends import ModelBackend
from django.urls import get_script_prefix
from django.utils.translation import get_language
from django_otp.admin import OTPAdminSite

# The model admin's methods that the app list asks (AdminSite._build_app_dict).
PERMISSION_METHODS = (
    "has_module_permission",
    "get_model_perms",
    "has_view_permission",
    "has_change_permission",
    "has_add_permission",
    "has_delete_permission",
)
# Backends that answer no permission question without an object (beside ModelBackend,
# whose answers come from the user's permissions).
_NO_ANSWER_WITHOUT_OBJECT = frozenset(
    {
        "guardian.backends.ObjectPermissionBackend",
        "axes.backends.AxesStandaloneBackend",
    }
)
# Instructions that read something: an argument, a global, an attribute, a cell.
_READING = frozenset(
    {
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_AND_CLEAR",
        "LOAD_FAST_LOAD_FAST",
        "LOAD_DEREF",
        "LOAD_CLASSDEREF",
        "LOAD_GLOBAL",
        "LOAD_NAME",
        "LOAD_ATTR",
        "LOAD_METHOD",
        "LOAD_SUPER_ATTR",
        "IMPORT_NAME",
    }
)
APP_LISTS_KEPT = 256


def reads_nothing(function) -> bool:
    """Whether ``function`` answers without reading its arguments or anything else (its
    answer a constant, as ``return False``)."""
    code = getattr(function, "__code__", None)
    if code is None or code.co_freevars:
        return False
    return not any(instruction.opname in _READING for instruction in dis.get_instructions(code))


def answers_from_permissions(model_admin) -> bool:
    """Whether the model admin's answers to the app list's questions are Django's own or
    constant."""
    for name in PERMISSION_METHODS:
        method = getattr(type(model_admin), name)
        if method is not getattr(admin.ModelAdmin, name) and not reads_nothing(method):
            return False
    return True


def backends_answer_from_permissions() -> bool:
    """Whether the authentication backends answer a question without an object from the
    user's permissions alone (``user.get_all_permissions()``): ``ModelBackend`` itself,
    not a subclass that may answer otherwise, and backends that never answer one."""
    for backend in get_backends():
        kind = type(backend)
        if kind is ModelBackend:
            continue
        if f"{kind.__module__}.{kind.__qualname__}" not in _NO_ANSWER_WITHOUT_OBJECT:
            return False
    return True


def _copy(app_list: list[dict]) -> list[dict]:
    """A copy a caller may change without changing the kept list."""
    return [
        {
            **app,
            "models": [{**model, "perms": dict(model["perms"])} for model in app["models"]],
        }
        for app in app_list
    ]


class PortalAdminSite(OTPAdminSite):
    """django-otp's admin site, its app list kept per set of permissions (see above)."""

    def _app_list_key(self, request, app_label) -> tuple | None:
        """What the app list depends on, or None where it may depend on more."""
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        registry = tuple(self._registry.items())
        checked = self.__dict__.get("_checked_registry")
        if checked is None or checked[0] != registry:
            # Models registered or unregistered since: the kept lists are another site's.
            self.__dict__.get("_app_lists", {}).clear()
            answers = all(answers_from_permissions(model_admin) for _, model_admin in registry)
            checked = self._checked_registry = (registry, answers)
        if not checked[1] or not backends_answer_from_permissions():
            return None
        if not user.is_active:
            permissions = frozenset()  # ModelBackend grants an inactive user nothing
        elif user.is_superuser:
            permissions = None  # Django grants an active superuser everything unasked
        else:
            permissions = frozenset(user.get_all_permissions())
        return (
            get_language(),
            get_script_prefix(),
            app_label,
            bool(user.is_active),
            bool(user.is_superuser),
            permissions,
        )

    def get_app_list(self, request, app_label=None):
        key = self._app_list_key(request, app_label)
        if key is None:
            return super().get_app_list(request, app_label)
        kept = self.__dict__.setdefault("_app_lists", {})
        app_list = kept.get(key)
        if app_list is None:
            if len(kept) >= APP_LISTS_KEPT:
                kept.clear()
            app_list = kept[key] = super().get_app_list(request, app_label)
        return _copy(app_list)
