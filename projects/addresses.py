"""Addresses: the one a request comes from, behind as many proxies as TRUSTED_PROXIES
says, and whether a host the app is told to reach is inside this network."""

import ipaddress
import socket

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


# IPv6 prefixes that carry an IPv4 address in their last 32 bits, and reach it: NAT64's
# well-known and local-use prefixes (RFC 6052, RFC 8215), and the IPv4-compatible
# addresses of old (::a.b.c.d).
_CARRYING_IPV4 = [
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
]


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 address leads to (mapped, 6to4, NAT64, IPv4-compatible,
    Teredo's client), or None."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in network for network in _CARRYING_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_internal_ip(address):
    """Whether an IP address is not on the public internet: loopback, private,
    link-local, shared, reserved... An IPv6 address that carries an IPv4 one (mapped,
    6to4, NAT64, IPv4-compatible, Teredo) is internal when either is."""
    ip = ipaddress.ip_address(str(address).split("%")[0].strip("[]"))
    embedded = _embedded_ipv4(ip)
    return not ip.is_global or (embedded is not None and not embedded.is_global)


def resolve(host, port=None):
    """Every address `host` (a name or an IP) resolves to, in the resolver's order;
    OSError when it resolves to none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_internal(host):
    """Whether a host is, or resolves to, an address that is not on the public internet.
    A name that does not resolve is not: reaching it fails on its own."""
    try:
        addresses = resolve(host)
    except (OSError, UnicodeError):
        return False
    return any(is_internal_ip(address) for address in addresses)
