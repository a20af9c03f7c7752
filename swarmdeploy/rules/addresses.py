"""What makes a text an address, a host name or a CIDR block, read the way the programs that receive it
read it (libc, nginx, HAProxy, redis-py). Each function says what is wrong, or None."""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NOT_AN_ADDRESS = "is not an IP address (four parts 0-255 without leading zeros, or IPv6)"
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this network": a source address only


def looks_numeric(text: str) -> bool:
    """Text a resolver reads as an address rather than a name: libc takes 10.0.1 for 10.0.0.1, 011 as octal."""
    return all(part.isdigit() for part in text.split(".")) or ":" in text


def ip_address(text: str) -> IPAddress | None:
    """The address, also in the bracketed form [::1] that listen directives use; None when it is none."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def host_problem(host: str) -> str | None:
    """Why host names no host: a numeric form that is no address, or a name DNS cannot hold."""
    if looks_numeric(host):
        return None if ip_address(host) else NOT_AN_ADDRESS
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        return "is not a DNS name (labels of 1-63 letters, digits and -, not starting or ending with -)"
    return None


def listen_problem(address: IPAddress) -> str | None:
    """Why no socket can listen on address, whatever the host's interfaces (bind fails at start)."""
    if address.is_unspecified or address.is_loopback:
        return None
    if address.is_multicast:
        return "is a multicast address, which no socket listens on"
    if address.is_reserved or address in _THIS_NETWORK:  # 240.0.0.0/4 holds the broadcast address
        return "is a reserved address (0.x.x.x, 240.0.0.0/4, 255.255.255.255, unassigned IPv6) that no interface has"
    if address.is_link_local and address.version == 6:
        return "is link-local: listening on it needs an interface name (%eth0) that this field cannot hold"
    return None


def cidr_problem(text: str) -> tuple[str, str] | None:
    """Why text is not an address or CIDR block nginx's set_real_ip_from reads as meant, and the fix."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return ("is not an address or CIDR block",
                "write an address or a block such as 10.0.0.0/8 or fd00::/8 (IPv4 prefixes 0-32, IPv6 0-128)")
    if network.network_address != ipaddress.ip_interface(text).ip:
        return (f"has bits set past its /{network.prefixlen} prefix, which nginx ignores (with a warning)",
                f"write the block as {network}")
    return None
