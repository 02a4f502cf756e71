"""Staff work in the admin (H4): users and their status (U4–U6), customers and newcomers
(U5), invitations, sub-account links, staff requests, the audit trail."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import services
from accounts.models import (
    AuditEvent,
    Customer,
    HostingAccount,
    Invitation,
    Membership,
    StaffRequest,
    SubAccountLinkRequest,
    User,
)
from portal.models import OutgoingMail


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["customer"]
    fk_name = "user"


class StaffUserCreationForm(forms.ModelForm):
    """Staff create a login without a password: the person chooses it (U5)."""

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "language"]


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
    add_form = StaffUserCreationForm
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "first_name", "last_name", "language"]})
    ]
    inlines = [MembershipInline]
    filter_horizontal = ["groups"]
    actions = ["deactivate", "verify"]

    def save_model(self, request, obj, form, change):
        if not change:
            # A new login gets no password; a mail lets the person choose one (U5).
            created = services.user_create_by_staff(
                email=obj.email,
                first_name=obj.first_name,
                last_name=obj.last_name,
                language=obj.language,
                by=request.user,
            )
            obj.pk, obj.password = created.pk, created.password
            obj._state.adding, obj._state.db = False, created._state.db
            return
        if "status" in form.changed_data:
            # The status changes through the service: sessions end, the audit records it.
            new_status = obj.status
            obj.status = form.initial["status"]
            super().save_model(request, obj, form, change)
            services.user_set_status(user=obj, status=new_status, by=request.user, request=request)
            return
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def get_inline_instances(self, request, obj=None):
        # Memberships are added once the login exists.
        return super().get_inline_instances(request, obj) if obj is not None else []

    @admin.action(description=_("Set inactive (sign-in and access end at once)"))
    def deactivate(self, request, queryset):
        done = sum(
            services.user_deactivate(user=user, by=request.user, request=request)
            for user in queryset
        )
        self.message_user(
            request,
            ngettext("%d user set inactive.", "%d users set inactive.", done) % done,
            messages.SUCCESS,
        )

    @admin.action(description=_("Verify (unverified users only)"))
    def verify(self, request, queryset):
        done = sum(
            services.user_verify(user=user, by=request.user, request=request)
            for user in queryset.filter(status=User.Status.UNVERIFIED)
        )
        self.message_user(
            request,
            ngettext("%d user verified.", "%d users verified.", done) % done,
            messages.SUCCESS,
        )


class HostingAccountInline(admin.TabularInline):
    model = HostingAccount
    extra = 0
    fields = ["kind", "name", "status"]
    show_change_link = True


class SubAccountInline(admin.TabularInline):
    model = Customer
    fk_name = "parent"
    verbose_name = _("sub-account")
    verbose_name_plural = _("sub-accounts")
    extra = 0
    fields = ["number", "name", "on_collective_invoice"]
    readonly_fields = ["number", "name", "on_collective_invoice"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class NewcomerForm(forms.Form):
    """What seed 000 asks for to give someone a customer number (U5)."""

    company = forms.CharField(label=_("Company"), max_length=200)
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    street = forms.CharField(label=_("Street and number"), max_length=200)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20)
    city = forms.CharField(label=_("City"), max_length=100)
    country = forms.CharField(label=_("Country"), max_length=100)
    phone = forms.CharField(label=_("Phone"), max_length=50)
    email = forms.EmailField(label=_("E-mail address"))


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["display_number", "name", "parent", "requires_two_factor", "created_at"]
    search_fields = ["=number", "name", "email"]
    list_select_related = ["parent"]
    raw_id_fields = ["parent"]
    readonly_fields = ["number"]
    fieldsets = [
        (None, {"fields": ["number", "name", "email", "requires_two_factor"]}),
        (_("Address"), {"fields": ["street", "postal_code", "city", "country", "phone"]}),
        (_("Main account (C1–C4)"), {"fields": ["parent", "on_collective_invoice"]}),
    ]
    inlines = [SubAccountInline, HostingAccountInline]

    def get_urls(self):
        return [
            path(
                "newcomer/",
                self.admin_site.admin_view(self.newcomer_view),
                name="accounts_customer_newcomer",
            ),
            *super().get_urls(),
        ]

    def newcomer_view(self, request):
        """A customer number and a login for someone who is not yet a customer, with a
        set-password mail (U5, seed 000)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = NewcomerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            result = services.customer_create_for_newcomer(
                **form.cleaned_data, created_by=request.user, request=request
            )
            if result.login_created:
                text = _("%(customer)s created; %(email)s gets a mail to choose a password.")
            else:
                text = _(
                    "%(customer)s created; %(email)s already had a login and now owns it "
                    "(no password mail sent)."
                )
            self.message_user(
                request,
                text % {"customer": result.customer, "email": result.user.email},
                messages.SUCCESS,
            )
            return redirect(reverse("admin:accounts_customer_change", args=[result.customer.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("New customer for a newcomer"),
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/customer/newcomer.html", context)


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


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "customer", "state", "invited_by", "created_at", "expires_at"]
    list_filter = ["state"]
    search_fields = ["email", "=customer__number", "customer__name"]
    list_select_related = ["customer", "invited_by"]
    exclude = ["token_hash"]


@admin.register(SubAccountLinkRequest)
class SubAccountLinkRequestAdmin(ReadOnlyAdmin):
    list_display = ["main", "sub", "state", "requested_by", "created_at", "decided_at"]
    list_filter = ["state"]
    search_fields = ["=main__number", "=sub__number", "main__name", "sub__name"]
    list_select_related = ["main", "sub", "requested_by"]


@admin.register(StaffRequest)
class StaffRequestAdmin(admin.ModelAdmin):
    """Requests from customers, e.g. "this person has left" (U4)."""

    list_display = ["created_at", "kind", "customer", "user", "requested_by", "state"]
    list_filter = ["state", "kind"]
    search_fields = ["user__email", "=customer__number", "customer__name"]
    list_select_related = ["customer", "user", "requested_by"]
    readonly_fields = [
        "kind",
        "customer",
        "user",
        "requested_by",
        "note",
        "created_at",
        "handled_by",
        "handled_at",
    ]
    fields = [*readonly_fields[:6], "state", "handled_by", "handled_at"]
    actions = ["deactivate_and_close", "close"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Set the users inactive and close the requests"))
    def deactivate_and_close(self, request, queryset):
        done = 0
        for staff_request in queryset.filter(state=StaffRequest.State.OPEN).select_related("user"):
            if staff_request.user is not None:
                services.user_deactivate(user=staff_request.user, by=request.user, request=request)
            done += services.staff_request_done(staff_request=staff_request, by=request.user)
        self.message_user(
            request,
            ngettext("%d request closed.", "%d requests closed.", done) % done,
            messages.SUCCESS,
        )

    @admin.action(description=_("Close without changing the users"))
    def close(self, request, queryset):
        done = sum(
            services.staff_request_done(staff_request=staff_request, by=request.user)
            for staff_request in queryset
        )
        self.message_user(
            request,
            ngettext("%d request closed.", "%d requests closed.", done) % done,
            messages.SUCCESS,
        )
