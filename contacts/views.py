"""Contacts pages for users allowed to manage contacts, and the address confirmation page
that the mailed link opens (no login: contacts have none)."""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from accounts.audit import audit
from contacts import selectors, services
from contacts.forms import (
    ConfirmForm,
    ContactForm,
    DeleteForm,
    InvoiceNamingForm,
    PhonePasswordForm,
    RegisterExtractForm,
)
from contacts.models import Category, Contact, RegisterExtract
from portal import policy
from portal.choices import choice_labels
from portal.pagination import PagedList
from portal.policy import Action

PAGE_SIZE = 25
CONFIRM_LIMIT_GROUP = "contacts:email_confirm"


def _apply_errors(form, exc: ValidationError) -> None:
    """Show a refused change on the form: beside its field where there is one, else at the
    top (the error summary lists both)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _refused(request, customer, exc: ValidationError, attempted: str, contact=None) -> None:
    """Record a refused change in the audit trail (S27: denials), outside the rolled-back
    transaction of the service that refused it."""
    audit(
        "contact.refused",
        request=request,
        customer=customer,
        summary=f"{attempted}: " + " ".join(exc.messages)[:400],
        attempted=attempted,
        contact_id=contact.pk if contact is not None else None,
    )


def _list_url(customer):
    return reverse("contacts:contact_list", kwargs={"customer": customer.number})


def _contact(customer, pk) -> Contact:
    # Only through the customer: another tenant's contact is a 404 (S1).
    return get_object_or_404(Contact.objects.active(), pk=pk, customer=customer)


@login_required
def contact_list(request, customer):
    """The customer's contacts with their types, addresses (pending ones beside the
    current), switches and marks; the invoice address preview (K6)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    # The count comes with the page's aggregate (routing, authorised contact); the
    # page's contacts are a query compiled once per page (make bench).
    counts = selectors.contacts_page_counts(customer)
    contacts = PagedList(
        partial(counts.get, "listed"), partial(selectors.contacts_listed_page, customer), PAGE_SIZE
    )
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    contact_settings = selectors.contact_settings_of(customer)
    list_on_invoice = contact_settings.list_contacts_on_invoice if contact_settings else True
    per_contact, fallback, has_authorised = selectors.contacts_page_summary(
        customer, list(page.object_list), counts=counts
    )
    categories = choice_labels(Category)  # translated once per language, not per row
    for contact in page.object_list:
        contact.gets_now = [categories[c] for c in per_contact.get(contact.pk, [])]
    return render(
        request,
        "contacts/contact_list.html",
        {
            "customer": customer,
            "page": page,
            "is_authorised_user": selectors.is_authorised_user(request.user, customer),
            "has_authorised_contact": has_authorised,
            "invoice_block": selectors.invoice_address_block(customer, contact_settings),
            "account_gets": [categories[c] for c in fallback],
            "invoice_form": InvoiceNamingForm(
                initial={"list_contacts_on_invoice": list_on_invoice}
            ),
        },
    )


@login_required
def contact_archived(request, customer):
    """Deleted contacts, newest first, each with a button to restore it: nothing is
    hard-deleted, so a contact deleted by mistake comes back as it was."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    archived = Contact.objects.archived().filter(customer=customer).order_by("-archived_at", "-pk")
    page = Paginator(archived, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "contacts/contact_archived.html",
        {
            "customer": customer,
            "page": page,
            "is_authorised_user": selectors.is_authorised_user(request.user, customer),
        },
    )


@login_required
@require_POST
def contact_restore(request, customer, contact):
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    # Only through the customer: another tenant's contact is a 404 (S1).
    contact = get_object_or_404(Contact.objects.archived(), pk=contact, customer=customer)
    try:
        services.contact_restore(contact=contact, actor=request.user, request=request)
    except ValidationError as exc:
        _refused(request, customer, exc, "restore", contact)
        messages.error(request, " ".join(exc.messages))
        return redirect("contacts:contact_archived", customer=customer.number)
    messages.success(request, _("%(name)s is back among your contacts.") % {"name": contact.name})
    return redirect(_list_url(customer))


@login_required
def contact_create(request, customer):
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    form = ContactForm(
        request.POST or None,
        initial={
            "language": request.LANGUAGE_CODE,
            "types": ["standard"] if not selectors.standard_contact_count(customer) else [],
            "notifications": [
                "notify_invoices",
                "notify_orders",
                "notify_support",
                "notify_security",
                "notify_outages",
            ],
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(
                customer=customer, actor=request.user, request=request, **form.service_kwargs()
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            _refused(request, customer, exc, "create")
        else:
            if contact.pending_email:
                messages.success(
                    request,
                    _(
                        "%(name)s was added. We mailed a confirmation link to %(email)s; the "
                        "address is used once it is confirmed."
                    )
                    % {"name": contact.name, "email": contact.pending_email},
                )
            else:
                messages.success(request, _("%(name)s was added.") % {"name": contact.name})
            return redirect(_list_url(customer))
    return render(
        request,
        "contacts/contact_form.html",
        {"customer": customer, "form": form, "contact": None},
    )


@login_required
def contact_update(request, customer, contact):
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    contact = _contact(customer, contact)
    form = ContactForm(request.POST or None, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            updated = services.contact_update(
                contact=contact, actor=request.user, request=request, **form.service_kwargs()
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            _refused(request, customer, exc, "change", contact)
        else:
            if updated.pending_email and updated.pending_email != contact.pending_email:
                messages.success(
                    request,
                    _(
                        "Saved. We mailed a confirmation link to %(email)s; until it is "
                        "confirmed the current address stays in use."
                    )
                    % {"email": updated.pending_email},
                )
            else:
                messages.success(request, _("Saved."))
            return redirect(_list_url(customer))
    return render(
        request,
        "contacts/contact_form.html",
        {
            "customer": customer,
            "form": form,
            "contact": contact,
            "phone_form": PhonePasswordForm(),
        },
    )


@login_required
def contact_delete(request, customer, contact):
    """Deleting archives the contact (nothing is hard-deleted). The primary contact names
    its successor on this page (K11)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    contact = _contact(customer, contact)
    form = DeleteForm(request.POST if request.method == "POST" else None, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_archive(
                contact=contact,
                actor=request.user,
                request=request,
                successor=form.cleaned_data.get("successor"),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            _refused(request, customer, exc, "delete", contact)
        else:
            messages.success(request, _("%(name)s was deleted.") % {"name": contact.name})
            return redirect(_list_url(customer))
    return render(
        request,
        "contacts/contact_delete.html",
        {
            "customer": customer,
            "contact": contact,
            "form": form,
            "is_last_standard": contact.is_standard
            and selectors.standard_contact_count(customer) <= 1,
            "is_authorised_user": selectors.is_authorised_user(request.user, customer),
        },
    )


def _post_action(request, customer, contact, action, success_message):
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    contact = _contact(customer, contact)
    try:
        action(contact=contact, actor=request.user, request=request)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        _refused(request, customer, exc, action.__name__, contact)
    else:
        messages.success(request, success_message % {"name": contact.name})
    return redirect(_list_url(customer))


@login_required
@require_POST
def contact_primary(request, customer, contact):
    """Make a contact the primary one; only authorised people may (K11)."""
    return _post_action(
        request,
        customer,
        contact,
        services.contact_make_primary,
        _("%(name)s is now your primary contact."),
    )


@login_required
@require_POST
def contact_pending_cancel(request, customer, contact):
    """Cancel a pending address (K4)."""
    return _post_action(
        request,
        customer,
        contact,
        services.contact_pending_cancel,
        _("The pending address of %(name)s was cancelled."),
    )


@login_required
@require_POST
def contact_pending_resend(request, customer, contact):
    return _post_action(
        request,
        customer,
        contact,
        services.contact_confirmation_resend,
        _("A new confirmation link for %(name)s is on its way; earlier links no longer work."),
    )


@login_required
@sensitive_post_parameters("password", "password2")
@never_cache
def contact_phone_password(request, customer, contact):
    """Set or clear a contact's phone password (K8). It is stored only as a hash and never
    shown again."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    contact = _contact(customer, contact)
    if request.method == "POST" and request.POST.get("clear"):
        services.contact_phone_password_clear(contact=contact, actor=request.user, request=request)
        messages.success(
            request, _("The phone password of %(name)s was removed.") % {"name": contact.name}
        )
        return redirect(_list_url(customer))
    form = PhonePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.contact_phone_password_set(
            contact=contact,
            password=form.cleaned_data["password"],
            actor=request.user,
            request=request,
        )
        messages.success(
            request, _("The phone password of %(name)s was saved.") % {"name": contact.name}
        )
        return redirect(_list_url(customer))
    return render(
        request,
        "contacts/contact_phone_password.html",
        {"customer": customer, "contact": contact, "form": form},
    )


@login_required
@require_POST
def contact_settings(request, customer):
    """K6: whether contacts are named on the invoice address."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    form = InvoiceNamingForm(request.POST)
    if form.is_valid():
        services.contact_settings_update(
            customer=customer,
            actor=request.user,
            request=request,
            list_contacts_on_invoice=form.cleaned_data["list_contacts_on_invoice"],
        )
        messages.success(request, _("Saved."))
    return redirect(_list_url(customer))


@login_required
def register_extract(request, customer):
    """K12: with no authorised contact left, upload a register extract naming the managing
    director or board chair; staff verify it and make that person authorised for a time."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_CONTACTS)
    form = RegisterExtractForm(request.POST or None, request.FILES or None)
    has_authorised = selectors.has_authorised_contact(customer)
    if request.method == "POST" and not has_authorised and form.is_valid():
        services.register_extract_submit(
            customer=customer,
            actor=request.user,
            request=request,
            file=form.cleaned_data["file"],
            content_type=form.content_type,
            person_name=form.cleaned_data["person_name"],
            person_email=form.cleaned_data["person_email"],
            person_phone=form.cleaned_data["person_phone"],
        )
        messages.success(
            request,
            _(
                "Thank you. Our staff will check the extract and let the person named in it "
                "name your new contacts."
            ),
        )
        return redirect(_list_url(customer))
    extracts = RegisterExtract.objects.filter(customer=customer).order_by("-uploaded_at")[:10]
    return render(
        request,
        "contacts/register_extract_form.html",
        {
            "customer": customer,
            "form": form,
            "has_authorised_contact": has_authorised,
            "extracts": extracts,
        },
    )


@sensitive_post_parameters("token")
@never_cache
def email_confirm(request):
    """The page the confirmation link opens (K4, S10, S11). The token comes in the link's
    fragment, a small script puts it into the form, and confirming is a POST: a mail
    scanner that fetches the link changes nothing. Every failure — unknown, expired, used,
    voided — gets the same answer, and failures are limited per IP (S8)."""
    request.no_store = True
    limit = {"group": CONFIRM_LIMIT_GROUP, "key": "ip", "rate": settings.WRONG_KEY_LIMIT}
    usage = get_usage(request, increment=False, **limit)
    # Blocked once the failures reached the limit (and when the cache cannot count).
    if usage is not None and (usage["should_limit"] or usage["count"] >= usage["limit"]):
        response = render(request, "429.html", status=429)
        response["Referrer-Policy"] = "same-origin"
        return response
    form = ConfirmForm(request.POST or None)
    status = 200
    if request.method == "POST":
        contact = None
        if form.is_valid():
            contact = services.contact_email_confirm(
                token=form.cleaned_data["token"], request=request
            )
        if contact is not None:
            response = render(request, "contacts/email_confirmed.html", {"contact": contact})
            response["Referrer-Policy"] = "same-origin"
            return response
        get_usage(request, increment=True, **limit)
        audit("contact.email_confirm_failed", request=request)
        form = ConfirmForm()
        status = 400
    response = render(
        request,
        "contacts/email_confirm.html",
        {"form": form, "failed": status == 400},
        status=status,
    )
    response["Referrer-Policy"] = "same-origin"
    return response
