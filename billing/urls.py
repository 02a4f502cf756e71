"""Contract-data pages. Included by accounts/urls.py, so their names are
``accounts:invoice_list`` and so on, as the navigation expects."""

from django.urls import path

from billing import views

urlpatterns = [
    path("c/<int:customer>/invoices/", views.invoice_list, name="invoice_list"),
    path("c/<int:customer>/invoices/<int:invoice>/", views.invoice_detail, name="invoice_detail"),
    path(
        "c/<int:customer>/invoices/<int:invoice>/print/",
        views.invoice_print,
        name="invoice_print",
    ),
    path("c/<int:customer>/contracts/", views.contract_list, name="contract_list"),
    path(
        "c/<int:customer>/contracts/<int:contract>/",
        views.contract_detail,
        name="contract_detail",
    ),
]
