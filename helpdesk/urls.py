from django.urls import path

from helpdesk import views

app_name = "helpdesk"

urlpatterns = [
    path("c/<int:customer>/tickets/", views.ticket_list, name="ticket_list"),
    path("c/<int:customer>/tickets/new/", views.ticket_create, name="ticket_create"),
    path("c/<int:customer>/tickets/<int:ticket>/", views.ticket_detail, name="ticket_detail"),
    path("c/<int:customer>/tickets/<int:ticket>/reply/", views.ticket_reply, name="ticket_reply"),
    path("c/<int:customer>/tickets/<int:ticket>/close/", views.ticket_close, name="ticket_close"),
    path(
        "c/<int:customer>/tickets/<int:ticket>/reopen/",
        views.ticket_reopen,
        name="ticket_reopen",
    ),
    path(
        "c/<int:customer>/tickets/<int:ticket>/files/<int:attachment>/",
        views.attachment_download,
        name="attachment_download",
    ),
]
