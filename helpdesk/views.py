"""The helpdesk in the portal: open a ticket, the list, the conversation, reply, close and
reopen, download an attachment (H1, H3, D5). Every decision comes from portal.policy."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk import selectors, services
from helpdesk.files import served_type
from helpdesk.forms import ReplyForm, TicketFilterForm, TicketForm
from helpdesk.models import Attachment, Message, Ticket
from portal import policy
from portal.choices import choice_labels
from portal.pagination import CappedCountPaginator
from portal.policy import Action, TicketAction

PAGE_SIZE = 25


@login_required
def ticket_list(request, customer):
    """The tickets the user may see here, filtered by status and searched (H3)."""
    customer = policy.get_customer_for(request, customer, Action.VIEW_CUSTOMER)
    form = TicketFilterForm(request.GET or None)
    status, query = "open", ""
    if form.is_valid():
        status = form.cleaned_data["status"] or "open"
        query = form.cleaned_data["q"]
    if not query and policy.sees_all_own_tickets(request.user, customer):
        tickets = selectors.own_tickets_paged(customer, status, PAGE_SIZE)
    else:
        tickets = selectors.tickets_filtered(
            policy.visible_tickets(request.user, customer), status=status, query=query
        )
    # An organisation may have tens of thousands of tickets: count no more than a
    # thousand; the status filter and the search narrow the list (make bench).
    page = CappedCountPaginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "helpdesk/ticket_list.html",
        {
            "customer": customer,
            "page": page,
            "form": form,
            "status": status,
            "query": query,
            "can_open": request.access.allows(Action.OPEN_TICKETS),
            "is_manager": policy.is_manager(request.user, customer),
            # For the rows: each status label translated once, not per row (make bench).
            "status_labels": choice_labels(Ticket.Status),
        },
    )


@login_required
def ticket_create(request, customer):
    """Open a ticket about one topic, optionally naming an account or server (H1, D5)."""
    customer = policy.get_customer_for(request, customer, Action.OPEN_TICKETS)
    accounts = policy.ticket_accounts(request.user, customer)
    initial = {}
    if request.method == "GET" and request.GET.get("account", "").isdigit():
        initial["account"] = int(request.GET["account"])
    form = TicketForm(
        request.POST or None, request.FILES or None, accounts=accounts, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        account = form.cleaned_data["account"]
        # A granted account's ticket belongs to the grantor; we opened it as its agency.
        owner = account.customer if account is not None else customer
        ticket = services.ticket_create(
            customer=owner,
            account=account,
            agency=customer if owner != customer else None,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            source=Ticket.Source.WEB,
            requester=request.user,
            copied=[(address, None) for address in form.cleaned_data["copied"]],
            files=form.cleaned_data["attachments"],
            request=request,
        )
        messages.success(
            request, _("Ticket %(number)s is open.") % {"number": ticket.display_number}
        )
        return redirect(ticket.get_absolute_url())
    return render(request, "helpdesk/ticket_create.html", {"customer": customer, "form": form})


@login_required
def ticket_detail(request, customer, ticket):
    """The conversation without internal notes, and the reply form (H3)."""
    ticket = policy.get_ticket_for(request, customer, ticket, TicketAction.VIEW)
    return _detail(request, ticket, ReplyForm())


def _detail(request, ticket, form, status=200):
    access = request.ticket_access
    return render(
        request,
        "helpdesk/ticket_detail.html",
        {
            "customer": ticket.customer,
            "ticket": ticket,
            "conversation": selectors.conversation(ticket),
            # Read with the access check (policy.ticket_access).
            "copied": sorted(p.email for p in ticket.participants.all()),
            "form": form,
            "access": access,
            "can_close": access.allows(TicketAction.CLOSE),
        },
        status=status,
    )


@login_required
@require_POST
def ticket_reply(request, customer, ticket):
    ticket = policy.get_ticket_for(request, customer, ticket, TicketAction.REPLY)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, ticket, form, status=400)
    services.ticket_reply(
        ticket=ticket,
        body=form.cleaned_data["body"],
        source=Ticket.Source.WEB,
        author=request.user,
        files=form.cleaned_data["attachments"],
        request=request,
    )
    messages.success(request, _("Your answer was added."))
    return redirect(ticket.get_absolute_url())


@login_required
@require_POST
def ticket_close(request, customer, ticket):
    ticket = policy.get_ticket_for(request, customer, ticket, TicketAction.CLOSE)
    services.ticket_close(ticket=ticket, request=request)
    messages.success(request, _("The ticket is closed."))
    return redirect(ticket.get_absolute_url())


@login_required
@require_POST
def ticket_reopen(request, customer, ticket):
    ticket = policy.get_ticket_for(request, customer, ticket, TicketAction.CLOSE)
    services.ticket_reopen(ticket=ticket, request=request)
    messages.success(request, _("The ticket is open again."))
    return redirect(ticket.get_absolute_url())


@login_required
def attachment_download(request, customer, ticket, attachment):
    """A file of the conversation, always as a download with a clean name, never rendered
    in the portal's origin (S24)."""
    ticket = policy.get_ticket_for(request, customer, ticket, TicketAction.VIEW)
    attachment = get_object_or_404(
        Attachment.objects.exclude(message__kind=Message.Kind.NOTE),
        pk=attachment,
        message__ticket=ticket,
    )
    return download_response(attachment)


def download_response(attachment: Attachment) -> FileResponse:
    """The response for one attachment; the admin's download uses it too."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=served_type(attachment.content_type),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
