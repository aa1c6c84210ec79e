"""The egress policy: which network addresses a user-supplied destination may reach.

Registration is open, so a webhook or Apprise URL is a destination chosen by a
stranger that the server will connect to. The rule, after Stripe's Smokescreen:
judge the *address that is connected to*, never the name that was typed.

- ``address_allowed(ip)``: public unicast addresses pass; loopback, private,
  link-local, CGNAT, multicast, reserved, documentation, benchmarking and
  unspecified addresses do not, in IPv4 and IPv6. An IPv6 address that carries
  an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
  ``2002::/16``) is judged by the IPv4 address it reaches. The operator's
  ``OUTBOUND_ALLOW_NETWORKS`` (CIDRs, empty by default) is the only exception.
- ``guarded()``: while it is active, every ``socket.connect`` in the process is
  checked against that rule on the numeric address being connected to. There is
  no second DNS lookup a rebinding server could answer differently, integer,
  hex and octal spellings of 127.0.0.1 are whatever the resolver made of them,
  and every redirect hop Apprise's plugins follow is a new connect, checked
  again. Apprise may send from a thread pool, so the guard is process-wide
  rather than per thread: deliveries run in Celery worker processes, one task at
  a time, and the guard is held only around the send itself.
- ``destination_problem(url)``: the same rule at creation time, so a user gets
  a 400 instead of a channel that can never deliver. It is a courtesy: a name
  that does not resolve yet is accepted and judged at every send.

Why not a library: requests-hardened (Saleor) pins the checked IP for
``requests`` only, with loopback as its one exception, and Apprise also speaks
SMTP and raw sockets; advocate has been unmaintained since 2020 and pins
urllib3 1.x; Smokescreen itself is a Go proxy every deployment would have to
run. The address classes come from the standard library's ``ipaddress``
(IANA's special-purpose registries); this module only applies them at connect.
"""

import ipaddress
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Not covered by Python 3.11's is_global, refused all the same.
EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "100.64.0.0/10",  # CGNAT: the provider's side of a carrier NAT, often internal workloads
        "192.88.99.0/24",  # 6to4 relay anycast
        "64:ff9b:1::/48",  # local-use NAT64
        "2001::/32",  # Teredo: tunnels to an IPv4 address we cannot see
    )
)
# How long creation waits for DNS before leaving the check to send time.
CREATION_LOOKUP_SECONDS = 2.0


class EgressRefused(ConnectionRefusedError):
    """A connection to an address the egress policy does not allow.

    A ConnectionRefusedError so that HTTP clients and smtplib report it like a
    refused connection; the send code names it "destination not allowed".
    """


def parse_networks(text: str) -> tuple[Network, ...]:
    """The CIDR list of OUTBOUND_ALLOW_NETWORKS; ValueError names the bad entry."""
    networks = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"OUTBOUND_ALLOW_NETWORKS: {entry!r} is not a CIDR network ({exc})") from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _networks_of(text: str) -> tuple[Network, ...]:
    return parse_networks(text)


def allowed_networks() -> tuple[Network, ...]:
    return _networks_of(settings.OUTBOUND_ALLOW_NETWORKS)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _in(ip: Address, networks: tuple[Network, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def _public(ip: Address) -> bool:
    return (
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
        and not ip.is_link_local
        and not ip.is_loopback
        and not _in(ip, EXTRA_BLOCKED)
    )


def address_allowed(ip: Address | str, *, networks_only: bool = False) -> bool:
    """Whether a connection to this address is allowed.

    ``networks_only``: only the operator's OUTBOUND_ALLOW_NETWORKS, not the public
    internet (for Apprise schemes whose host the user picks, such as json://).
    """
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    if ip.version == 6 and (inner := _embedded_ipv4(ip)) is not None:
        ip = inner
    if _in(ip, allowed_networks()):
        return True
    return not networks_only and _public(ip)


# The guard: a process-wide depth counter, the mode of its outermost holder, and
# how many connects it refused (Apprise swallows the error; the sender reads this).
_lock = threading.Lock()
_depth = 0
_networks_only = False
_refusals = 0
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


def _refuse(reason: str) -> None:
    global _refusals
    with _lock:
        _refusals += 1
    raise EgressRefused(reason)


def _check(sock: socket.socket, address) -> None:
    if not _depth:
        return
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"{socket.AddressFamily(sock.family).name} sockets are not allowed")
    host = address[0]
    try:
        allowed = address_allowed(host, networks_only=_networks_only)
    except ValueError:  # a name, not an address: connect would resolve it behind our back
        allowed = False
    if not allowed:
        _refuse(f"{host} is not an allowed destination")


def _guarded_connect(self, address):
    _check(self, address)
    return _original_connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _original_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


class Guard:
    """What a guarded block can ask afterwards: did the policy refuse a connect inside it?"""

    def __init__(self):
        self._refusals_before = _refusals

    @property
    def refused(self) -> bool:
        return _refusals > self._refusals_before


@contextmanager
def guarded(*, networks_only: bool = False):
    """Every connect in this process, while inside, goes only where the policy allows."""
    global _depth, _networks_only
    with _lock:
        if _depth == 0:
            _networks_only = networks_only
        _depth += 1
    try:
        yield Guard()
    finally:
        with _lock:
            _depth -= 1


def control_character_problem(url: str) -> str | None:
    """Why a URL with control characters is refused: CR/LF/NUL smuggle commands into line protocols.

    Percent-encoded ones count too (``%0D%0A``): Apprise decodes its parameters
    before it writes them to the wire. Decoded until nothing changes, so that a
    double encoding cannot hide them either.
    """
    for _ in range(4):
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
            return "The URL contains control characters (such as CR, LF or NUL), encoded or not."
        decoded = unquote(url)
        if decoded == url:
            return None
        url = decoded
    return "The URL is encoded too many times over."


def _literal_address(host: str) -> Address | None:
    """The address a host names without DNS: dotted, IPv6, or a legacy integer/hex/octal spelling."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    try:
        # inet_aton accepts what resolvers accept: 2130706433, 0x7f.1, 0177.0.0.1.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


_lookups = ThreadPoolExecutor(max_workers=2, thread_name_prefix="egress-dns")


def host_problem(host: str | None, port: int | None = None, *, networks_only: bool = False) -> str | None:
    """Why a destination host is refused at creation, or None.

    Literal addresses in any spelling are judged at once; a name is looked up
    (briefly) and refused if any address it has is not allowed. A name that does
    not resolve now is left to the check at every send.
    """
    if not host:
        return "The URL has no host."
    literal = _literal_address(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        if host.rstrip(".").lower().endswith(("localhost", ".local", ".internal", ".localdomain")):
            return f"{host} is a local name: not an allowed destination."
        future = _lookups.submit(_resolve, host, port or 443)
        try:
            addresses = future.result(timeout=CREATION_LOOKUP_SECONDS)
        except (OSError, UnicodeError, FutureTimeout):
            return "The URL's host must be one of OUTBOUND_ALLOW_NETWORKS." if networks_only else None
    for address in addresses:
        if not address_allowed(address, networks_only=networks_only):
            if networks_only:
                return f"{host} is not in the operator's allowed networks (OUTBOUND_ALLOW_NETWORKS)."
            return f"{host} is a private, local or reserved address: not an allowed destination."
    return None


def destination_problem(url: str, *, networks_only: bool = False) -> str | None:
    """host_problem for the host of a URL."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return "The URL's port is not a number between 0 and 65535."
    return host_problem(parts.hostname, port, networks_only=networks_only)
