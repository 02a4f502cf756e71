"""Staff work on contacts in the admin (H4): look up whether a caller or sender is a
registered contact (K8), check a caller's phone password without ever seeing it (K8),
and verify register extracts, making the named person authorised for a time (K12).

Contacts themselves are read-only here: changes go through the portal's services, which
hold the rules (K3, K4, K10, K11) and write the audit trail.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from contacts import selectors, services
from contacts.forms import LookupForm, PhoneCheckForm, VerifyExtractForm
from contacts.models import Contact, ContactSettings, RegisterExtract


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ArchivedFilter(admin.SimpleListFilter):
    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", _("no")), ("yes", _("yes"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.register(Contact)
class ContactAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "customer",
        "types_display",
        "email",
        "pending_email",
        "phone",
        "is_primary",
        "is_authorised",
        "authorised_until",
        "phone_password",
        "archived_at",
    ]
    list_filter = [
        ArchivedFilter,
        "is_primary",
        "is_authorised",
        "is_standard",
        "is_accounting",
        "is_technical",
        "is_domain",
    ]
    search_fields = ["name", "email", "pending_email", "phone_digits", "=customer__number"]
    list_select_related = ["customer"]
    show_full_result_count = False
    change_list_template = "contacts/admin/contact_change_list.html"
    # The phone password hash is never shown, not even to staff (K8).
    exclude = ["phone_password_hash", "pending_nonce_hash"]
    readonly_fields = ["phone_password", "check_link"]

    @admin.display(description=_("types"))
    def types_display(self, obj):
        return ", ".join(obj.type_labels())

    @admin.display(description=_("phone password"), boolean=True)
    def phone_password(self, obj):
        return obj.has_phone_password

    @admin.display(description=_("check a caller"))
    def check_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:contacts_contact_phone_check", args=[obj.pk]),
            _("Check a caller's phone password"),
        )

    def get_urls(self):
        urls = [
            path(
                "lookup/",
                self.admin_site.admin_view(self.lookup_view),
                name="contacts_contact_lookup",
            ),
            path(
                "<int:pk>/phone-check/",
                self.admin_site.admin_view(self.phone_check_view),
                name="contacts_contact_phone_check",
            ),
        ]
        return urls + super().get_urls()

    def lookup_view(self, request):
        """K8: before giving any information, does the caller's number or the sender's
        address belong to a registered contact, and of which customer?"""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = LookupForm(request.GET or None)
        results = None
        if form.is_valid():
            results = list(
                selectors.lookup_registered_contacts(
                    phone=form.cleaned_data["phone"], email=form.cleaned_data["email"]
                )[:50]
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Is this a registered contact?"),
            "form": form,
            "results": results,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "contacts/admin/lookup.html", context)

    @method_decorator(sensitive_post_parameters("answer"))
    def phone_check_view(self, request, pk):
        """K8: staff type what the caller said and learn yes or no, with the contact's
        restrictions; the password itself is never shown. Wrong answers are limited and
        recorded."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        contact = get_object_or_404(Contact.objects.select_related("customer"), pk=pk)
        form = PhoneCheckForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            result = services.phone_password_check(
                contact=contact,
                answer=form.cleaned_data["answer"],
                staff=request.user,
                request=request,
            )
            form = PhoneCheckForm()  # the answer is not echoed back
        context = {
            **self.admin_site.each_context(request),
            "title": _("Check a caller's phone password"),
            "contact": contact,
            "form": form,
            "result": result,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "contacts/admin/phone_check.html", context)


@admin.register(RegisterExtract)
class RegisterExtractAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["uploaded_at", "customer", "person_name", "state", "authorised_until"]
    list_filter = ["state"]
    search_fields = ["person_name", "person_email", "=customer__number", "customer__name"]
    list_select_related = ["customer"]
    exclude = ["file"]
    readonly_fields = ["download", "decide"]

    @admin.display(description=_("file"))
    def download(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:contacts_registerextract_download", args=[obj.pk]),
            obj.original_name or _("download"),
        )

    @admin.display(description=_("decision"))
    def decide(self, obj):
        if obj.state != RegisterExtract.State.SUBMITTED:
            return obj.get_state_display()
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:contacts_registerextract_verify", args=[obj.pk]),
            _("Verify or reject"),
        )

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="contacts_registerextract_download",
            ),
            path(
                "<int:pk>/verify/",
                self.admin_site.admin_view(self.verify_view),
                name="contacts_registerextract_verify",
            ),
        ]
        return urls + super().get_urls()

    def download_view(self, request, pk):
        """The uploaded file, only to staff, as a download that never renders (S24)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        extract = get_object_or_404(RegisterExtract, pk=pk)
        try:
            handle = extract.file.open("rb")
        except (FileNotFoundError, ValueError):
            raise Http404 from None
        suffix = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"register-extract-{extract.pk}{suffix.get(extract.content_type, '')}",
            content_type=extract.content_type or "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def verify_view(self, request, pk):
        """K12: verified → the named person is authorised for the chosen number of days."""
        if not request.user.is_staff or not self.has_view_permission(request):
            raise PermissionDenied
        extract = get_object_or_404(RegisterExtract.objects.select_related("customer"), pk=pk)
        form = VerifyExtractForm(request.POST or None)
        if request.method == "POST":
            try:
                if request.POST.get("reject"):
                    services.register_extract_reject(
                        extract=extract,
                        staff=request.user,
                        request=request,
                        note=request.POST.get("note", ""),
                    )
                    messages.success(request, _("The extract was rejected."))
                    return redirect("admin:contacts_registerextract_changelist")
                if form.is_valid():
                    contact = services.register_extract_verify(
                        extract=extract,
                        staff=request.user,
                        request=request,
                        days=form.cleaned_data["days"],
                    )
                    messages.success(
                        request,
                        _("%(name)s is authorised until %(until)s.")
                        % {"name": contact.name, "until": contact.authorised_until},
                    )
                    return redirect("admin:contacts_registerextract_changelist")
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Verify a register extract"),
            "extract": extract,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "contacts/admin/verify_extract.html", context)


@admin.register(ContactSettings)
class ContactSettingsAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["customer", "list_contacts_on_invoice"]
    search_fields = ["=customer__number", "customer__name"]
    list_select_related = ["customer"]
