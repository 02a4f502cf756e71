"""Staff views: the work list of change requests (A2, A3), DNS changes and their push
state (A1), and the accounts' history (A4, read only)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from hosting import services
from hosting.models import AccountEvent, ChangeRequest, DnsChange, DnsRecord, Zone


class OpenFirstFilter(admin.SimpleListFilter):
    """The work list opens on what is still to do."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("all", _("All"))] + list(ChangeRequest.State.choices)

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.filter(state=ChangeRequest.State.OPEN)
        if value == "all":
            return queryset
        return queryset.filter(state=value)

    def choices(self, changelist):
        value = self.value() or ChangeRequest.State.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "account",
        "customer_number",
        "value",
        "previous",
        "state",
        "created_at",
        "created_by",
    ]
    list_filter = [OpenFirstFilter, "kind"]
    search_fields = ["account__name", "=account__customer__number", "account__customer__name"]
    list_select_related = ["account", "account__customer", "created_by"]
    ordering = ["created_at"]
    readonly_fields = [
        "account",
        "kind",
        "value",
        "previous",
        "note",
        "state",
        "created_at",
        "created_by",
        "handled_at",
        "handled_by",
    ]
    fields = readonly_fields + ["staff_note"]
    actions = ["mark_done", "mark_rejected"]

    @admin.display(description=_("customer"), ordering="account__customer__number")
    def customer_number(self, obj):
        return obj.account.customer.display_number

    def has_add_permission(self, request):
        return False  # requests come from customers, through the service

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Carried out: apply to the account"))
    def mark_done(self, request, queryset):
        done = sum(
            services.change_request_complete(
                change_request=cr, staff_user=request.user, note=cr.staff_note, request=request
            )
            for cr in queryset.select_related("account")
        )
        self.message_user(
            request,
            ngettext("%d request carried out.", "%d requests carried out.", done) % done,
            messages.SUCCESS,
        )

    @admin.action(description=_("Decline (write the reason in the note first)"))
    def mark_rejected(self, request, queryset):
        done = sum(
            services.change_request_reject(
                change_request=cr, staff_user=request.user, note=cr.staff_note, request=request
            )
            for cr in queryset.select_related("account")
        )
        self.message_user(
            request,
            ngettext("%d request declined.", "%d requests declined.", done) % done,
            messages.SUCCESS,
        )


@admin.register(DnsChange)
class DnsChangeAdmin(admin.ModelAdmin):
    list_display = ["id", "zone", "name", "rtype", "state", "attempts", "created_at", "applied_at"]
    list_filter = ["state", "rtype"]
    search_fields = ["zone__name", "name", "=account__customer__number"]
    list_select_related = ["zone"]
    readonly_fields = [f.name for f in DnsChange._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Push again"))
    def retry(self, request, queryset):
        for change in queryset.filter(state=DnsChange.State.FAILED):
            services.dns_change_retry(change=change)


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "account"]
    list_filter = ["kind"]
    search_fields = ["name"]
    readonly_fields = ["name", "kind", "account", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(DnsRecord)
class DnsRecordAdmin(admin.ModelAdmin):
    """Read only: records change through the customer's pages, which keep the history."""

    list_display = ["name", "rtype", "ttl", "value", "zone", "account"]
    list_filter = ["rtype"]
    search_fields = ["name", "zone__name", "value"]
    list_select_related = ["zone", "account"]
    readonly_fields = [f.name for f in DnsRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ["at", "account", "action", "summary", "actor", "via", "reason"]
    list_filter = ["action", "via"]
    search_fields = ["account__name", "=account__customer__number", "actor__email"]
    list_select_related = ["account", "actor"]
    readonly_fields = [f.name for f in AccountEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
