from django.contrib import admin
from django.urls import include, path

from accounts.views import health
from portal import views

portal_patterns = [
    path("", views.home, name="home"),
    path("c/<int:customer>/", views.dashboard, name="dashboard"),
    path("c/<int:customer>/accounts/<int:account>/", views.account_detail, name="account_detail"),
    path("language/", views.set_language, name="set_language"),
]

urlpatterns = [
    # First: the admin's change lists resolve each row's link once more (preserved
    # filters); behind the apps' patterns each of those walked them all (make bench).
    path("admin/", admin.site.urls),
    path("", include((portal_patterns, "portal"))),
    path("", include("accounts.urls")),
    path("", include("contacts.urls")),
    path("", include("hosting.urls")),
    path("", include("delegation.urls")),
    path("", include("helpdesk.urls")),
    path("healthz", health, name="health"),
]
