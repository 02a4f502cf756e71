"""Writes for hosting accounts: DNS records and their push to PowerDNS (A1), reverse DNS
(A3), change requests for staff (A2, A3), and the account history of every change (A4).

Every change takes the policy's ``Access`` of the person making it (``request.access``),
so that the history says who made it and through which access. ``access=None`` means the
provider itself (staff in the admin, the demo data).
"""

from hosting.services.change_requests import (
    STORAGE_STEPS_GB,
    SUPPORTED_PHP_VERSIONS,
    change_request_cancel,
    change_request_complete,
    change_request_create,
    change_request_reject,
)
from hosting.services.history import check_changeable, event_record
from hosting.services.push import (
    Push,
    dns_change_retry,
    dns_push_due,
    dns_push_zone,
    retry_delay,
)
from hosting.services.records import (
    RECORD_FIELDS,
    dns_record_create,
    dns_record_delete,
    dns_record_update,
    enqueue_push,
    reverse_dns_set,
    server_addresses,
    zone_for_account,
    zone_set_up,
)

__all__ = [
    "RECORD_FIELDS",
    "STORAGE_STEPS_GB",
    "SUPPORTED_PHP_VERSIONS",
    "Push",
    "change_request_cancel",
    "change_request_complete",
    "change_request_create",
    "change_request_reject",
    "check_changeable",
    "dns_change_retry",
    "dns_push_due",
    "dns_push_zone",
    "dns_record_create",
    "dns_record_delete",
    "dns_record_update",
    "enqueue_push",
    "event_record",
    "retry_delay",
    "reverse_dns_set",
    "server_addresses",
    "zone_for_account",
    "zone_set_up",
]
