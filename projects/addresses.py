"""The address a request comes from, behind as many proxies as TRUSTED_PROXIES says."""

import ipaddress

from django.conf import settings
from ipware import get_client_ip


def client_address(request):
    """The client's address: REMOTE_ADDR with no proxy in front; behind N trusted proxies,
    the address the outermost of them saw, which it appended to X-Forwarded-For.

    Each proxy appends its peer's address to X-Forwarded-For, so only the last N entries
    were written by proxies we trust; whatever lies to their left the client may have
    made up. django-ipware reads the chain (proxy_count counts the proxies named in it:
    all but the one that connected to us). A request without the header, which did not
    come through the proxies, is known by its own address. Also axes' AXES_CLIENT_IP_CALLABLE.
    """
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        address, _ = get_client_ip(
            request,
            proxy_order="left-most",
            proxy_count=proxies - 1,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,
        )
        if address is not None:
            return address
    return request.META.get("REMOTE_ADDR")


def is_loopback(address):
    """Whether `address` (an IP, or a host name as a server is told to listen on) is this
    machine's loopback: 127.0.0.0/8, ::1 (IPv4-mapped too) or localhost."""
    if address == "localhost":
        return True
    try:
        ip = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback
