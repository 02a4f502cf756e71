"""Staff views of grants (read-only: grants change only through their services) and the
requests for an administrator's customer number (U5, seed 000)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from delegation import services
from delegation.models import Grant, GrantEvent, GrantRequest


class GrantEventInline(admin.TabularInline):
    model = GrantEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "side", "actor", "ip", "note"]
    readonly_fields = fields
    ordering = ["at", "pk"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["pk", "grantor", "agency", "state", "ends_at", "created_at"]
    list_filter = ["state"]
    search_fields = ["=grantor__number", "grantor__name", "=agency__number", "agency__name"]
    list_select_related = ["grantor", "agency"]
    # The key hash is never shown; the prefix is enough to recognise a key by.
    fields = [
        "grantor",
        "agency",
        "accounts",
        "state",
        "key_prefix",
        "key_expires_at",
        "created_by",
        "created_at",
        "approved_by",
        "approved_at",
        "ends_at",
        "ended_at",
        "ended_by",
        "reminded_at",
    ]
    readonly_fields = fields
    inlines = [GrantEventInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GrantRequest)
class GrantRequestAdmin(admin.ModelAdmin):
    """Staff create the administrator's customer number and login, and the grantor is
    told the number. With the users issue's service (``customer_create_for_newcomer``)
    that is one action; without it, staff create the customer elsewhere, fill in "new
    customer" here and use "Tell the grantor the customer number"."""

    list_display = ["pk", "grantor", "company", "first_name", "last_name", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["=grantor__number", "company", "last_name", "email"]
    list_select_related = ["grantor"]
    raw_id_fields = ["created_customer"]
    readonly_fields = [
        "grantor",
        "requested_by",
        "company",
        "first_name",
        "last_name",
        "street",
        "postal_code",
        "city",
        "country",
        "phone",
        "email",
        "state",
        "created_at",
        "done_at",
        "done_by",
    ]
    actions = ["create_newcomer", "tell_grantor", "cancel"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.state != GrantRequest.State.OPEN:
            return [*self.readonly_fields, "created_customer"]
        return self.readonly_fields

    @admin.action(description=_("Create customer number and login, and tell the grantor"))
    def create_newcomer(self, request, queryset):
        for grant_request in queryset.filter(state=GrantRequest.State.OPEN):
            customer = services.grant_request_create_newcomer(
                grant_request=grant_request, staff=request.user, request=request
            )
            self.message_user(
                request,
                _("%(number)s created for %(company)s; the grantor was told.")
                % {"number": customer.display_number, "company": grant_request.company},
            )

    @admin.action(description=_("Tell the grantor the customer number (new customer set)"))
    def tell_grantor(self, request, queryset):
        for grant_request in queryset.filter(state=GrantRequest.State.OPEN).select_related(
            "created_customer"
        ):
            if grant_request.created_customer is None:
                self.message_user(
                    request,
                    _("Request #%(id)s has no new customer set.") % {"id": grant_request.pk},
                    messages.WARNING,
                )
                continue
            try:
                services.grant_request_complete(
                    grant_request=grant_request,
                    customer=grant_request.created_customer,
                    staff=request.user,
                    request=request,
                )
            except ValidationError as error:
                self.message_user(request, "; ".join(error.messages), messages.ERROR)
                continue
            self.message_user(
                request,
                _("The grantor of request #%(id)s was told %(number)s.")
                % {"id": grant_request.pk, "number": grant_request.created_customer.display_number},
            )

    @admin.action(description=_("Cancel"))
    def cancel(self, request, queryset):
        for grant_request in queryset.filter(state=GrantRequest.State.OPEN):
            services.grant_request_cancel(
                grant_request=grant_request, actor=request.user, request=request
            )
