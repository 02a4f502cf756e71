from django.urls import path

from delegation import views

app_name = "delegation"

urlpatterns = [
    # The grantor's side: "Technical administrators" under contract data.
    path("c/<int:customer>/administrators/", views.grant_list, name="grant_list"),
    path("c/<int:customer>/administrators/new/", views.grant_create, name="grant_create"),
    path(
        "c/<int:customer>/administrators/ask-support/",
        views.grant_request_create,
        name="grant_request_create",
    ),
    path("c/<int:customer>/administrators/<int:grant>/", views.grant_detail, name="grant_detail"),
    path(
        "c/<int:customer>/administrators/<int:grant>/mail-key/",
        views.grant_key_mail,
        name="grant_key_mail",
    ),
    path(
        "c/<int:customer>/administrators/<int:grant>/revoke/",
        views.grant_revoke,
        name="grant_revoke",
    ),
    # The administrator's side: grants addressed to this customer.
    path("c/<int:customer>/delegated/", views.request_list, name="request_list"),
    path("c/<int:customer>/delegated/<int:grant>/", views.request_detail, name="request_detail"),
    path(
        "c/<int:customer>/delegated/<int:grant>/approve/",
        views.request_approve,
        name="request_approve",
    ),
    path(
        "c/<int:customer>/delegated/<int:grant>/hand-back/",
        views.request_hand_back,
        name="request_hand_back",
    ),
]
