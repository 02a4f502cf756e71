"""A small client for the PowerDNS Authoritative HTTP API (v1), with timeouts.

Errors come in two kinds, because the push treats them differently:
``PdnsUnavailable`` (no connection, timeout, 5xx, wrong key) — wait and try again, nothing
is lost; ``PdnsRejected`` (4xx: the server refuses this data) — retrying cannot help, the
change is marked failed with the server's message.
"""

from __future__ import annotations

from urllib.parse import quote

import requests
from django.conf import settings

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10
SERVER_ID = "localhost"


class PdnsError(Exception):
    pass


class PdnsUnavailable(PdnsError):
    """The server could not be reached or did not do its job; try again later."""


class PdnsRejected(PdnsError):
    """The server refused the request; trying again will not help."""


class ZoneMissing(PdnsError):
    pass


def is_configured() -> bool:
    """Whether changes are pushed at all. Read at call time, never at import."""
    return bool(settings.PDNS_API_URL)


class PdnsClient:
    def __init__(self, url: str | None = None, key: str | None = None):
        self.url = (url if url is not None else settings.PDNS_API_URL).rstrip("/")
        self.key = key if key is not None else settings.PDNS_API_KEY
        self.session = requests.Session()
        self.session.headers.update({"X-API-Key": self.key, "Accept": "application/json"})

    def _zone_url(self, zone: str = "") -> str:
        base = f"{self.url}/servers/{SERVER_ID}/zones"
        # PowerDNS zone ids escape "/" as "=2F"; names never hold one, but be exact.
        return f"{base}/{quote(zone.replace('/', '=2F'), safe='.=-_')}" if zone else base

    def _call(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            response = self.session.request(
                method, url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs
            )
        except requests.RequestException as exc:
            raise PdnsUnavailable(f"DNS server not reachable: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403):
            # A wrong key is the provider's configuration to fix, not the customer's data.
            raise PdnsUnavailable(f"DNS server answered {response.status_code}: {_error(response)}")
        return response

    def patch_rrsets(self, zone: str, rrsets: list[dict]) -> None:
        response = self._call("PATCH", self._zone_url(zone), json={"rrsets": rrsets})
        if response.status_code == 404:
            raise ZoneMissing(zone)
        if response.status_code >= 400:
            raise PdnsRejected(_error(response))

    def create_zone(self, zone: str) -> None:
        """Create a native zone with the provider's name servers as its NS records
        (``settings.DNS_NAMESERVERS``); one that exists already (409) is fine."""
        body = {
            "name": zone,
            "kind": "Native",
            "nameservers": list(settings.DNS_NAMESERVERS),
            "soa_edit_api": "DEFAULT",
        }
        response = self._call("POST", self._zone_url(), json=body)
        if response.status_code in (201, 409):
            return
        raise PdnsRejected(_error(response))

    def get_zone(self, zone: str) -> dict | None:
        response = self._call("GET", self._zone_url(zone))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise PdnsRejected(_error(response))
        return response.json()


def _error(response: requests.Response) -> str:
    try:
        text = response.json().get("error") or response.text
    except ValueError:
        text = response.text
    return " ".join(str(text).split())[:400] or response.reason
