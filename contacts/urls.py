from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("c/<int:customer>/contacts/", views.contact_list, name="contact_list"),
    path("c/<int:customer>/contacts/add/", views.contact_create, name="contact_create"),
    path(
        "c/<int:customer>/contacts/<int:contact>/edit/",
        views.contact_update,
        name="contact_update",
    ),
    path(
        "c/<int:customer>/contacts/<int:contact>/delete/",
        views.contact_delete,
        name="contact_delete",
    ),
    path(
        "c/<int:customer>/contacts/<int:contact>/primary/",
        views.contact_primary,
        name="contact_primary",
    ),
    path(
        "c/<int:customer>/contacts/<int:contact>/pending/cancel/",
        views.contact_pending_cancel,
        name="contact_pending_cancel",
    ),
    path(
        "c/<int:customer>/contacts/<int:contact>/pending/resend/",
        views.contact_pending_resend,
        name="contact_pending_resend",
    ),
    path(
        "c/<int:customer>/contacts/<int:contact>/phone-password/",
        views.contact_phone_password,
        name="contact_phone_password",
    ),
    path("c/<int:customer>/contacts/deleted/", views.contact_archived, name="contact_archived"),
    path(
        "c/<int:customer>/contacts/<int:contact>/restore/",
        views.contact_restore,
        name="contact_restore",
    ),
    path("c/<int:customer>/contacts/settings/", views.contact_settings, name="contact_settings"),
    path(
        "c/<int:customer>/contacts/register-extract/",
        views.register_extract,
        name="register_extract_create",
    ),
    # The mailed link; the token is in the fragment, never in the path (S11).
    path("contacts/confirm/", views.email_confirm, name="email_confirm"),
]
