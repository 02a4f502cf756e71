from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent, Customer, HostingAccount, Membership, User
from portal.models import OutgoingMail


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["customer"]
    fk_name = "user"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "status", "is_staff", "last_activity"]
    list_filter = ["status", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["last_login", "date_joined", "last_activity"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Person"), {"fields": ["first_name", "last_name", "language"]}),
        (_("Status"), {"fields": ["status", "is_staff", "is_superuser", "groups"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined", "last_activity"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "first_name", "last_name"]})]
    inlines = [MembershipInline]
    filter_horizontal = ["groups"]


class HostingAccountInline(admin.TabularInline):
    model = HostingAccount
    extra = 0
    fields = ["kind", "name", "status"]
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["display_number", "name", "parent", "requires_two_factor", "created_at"]
    search_fields = ["=number", "name", "email"]
    list_select_related = ["parent"]
    raw_id_fields = ["parent"]
    readonly_fields = ["number"]
    inlines = [HostingAccountInline]


@admin.register(HostingAccount)
class HostingAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "customer", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "=customer__number", "customer__name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "customer", "is_owner", "created_at"]
    search_fields = ["user__email", "=customer__number", "customer__name"]
    list_select_related = ["user", "customer"]
    raw_id_fields = ["user", "customer"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "actor", "customer", "ip", "summary"]
    list_filter = ["action"]
    search_fields = ["actor__email", "=customer__number", "summary"]
    list_select_related = ["actor", "customer"]
    show_full_result_count = False


@admin.register(OutgoingMail)
class OutgoingMailAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "subject", "state", "attempts"]
    list_filter = ["state", "kind"]
    show_full_result_count = False
