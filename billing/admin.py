from django.contrib import admin

from billing.models import Contract, Invoice, InvoiceLine, PaymentMethod


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["number", "product", "customer", "starts_on", "ends_on", "price", "currency"]
    search_fields = ["number", "product", "=customer__number", "customer__name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "hosting_account"]


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    raw_id_fields = ["customer", "contract"]


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "issued_on", "due_on", "total", "state", "is_collective"]
    list_filter = ["state", "is_collective"]
    search_fields = ["number", "=customer__number", "customer__name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    inlines = [InvoiceLineInline]


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "reference"]
    search_fields = ["=customer__number", "customer__name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
