from django.urls import path

from hosting import views

app_name = "hosting"

account = "c/<int:customer>/accounts/<int:account>"

urlpatterns = [
    path(f"{account}/dns/", views.record_list, name="record_list"),
    path(f"{account}/dns/add/", views.record_create, name="record_create"),
    path(f"{account}/dns/<int:record>/", views.record_update, name="record_update"),
    path(f"{account}/dns/<int:record>/delete/", views.record_delete, name="record_delete"),
    path(f"{account}/reverse-dns/", views.reversedns_update, name="reversedns_update"),
    path(
        f"{account}/requests/<slug:kind>/",
        views.changerequest_create,
        name="changerequest_create",
    ),
    path(
        f"{account}/requests/<int:change_request>/cancel/",
        views.changerequest_cancel,
        name="changerequest_cancel",
    ),
    path(f"{account}/history/", views.event_list, name="event_list"),
]
