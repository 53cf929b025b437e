"""Which network addresses framewarden may reach: the operator's allow-list and deny-list.

Channel sources and stream-controller URLs are checked here before anything
connects, so an API client cannot point the server at internal services or a
cloud metadata endpoint (SSRF).  An entry is a network (``10.0.0.0/8``,
``fd00:ec2::254/128``), a host name (``cams.example.com``) or a host-name
suffix (``*.example.com``).

- ``network_deny`` always wins.  Its default refuses link-local addresses
  (``169.254.0.0/16``, ``fe80::/10``) where cloud metadata lives, the IPv6
  metadata targets of AWS (``fd00:ec2::254``) and Alibaba (``100.100.100.200``)
  and ``metadata.google.internal``.
- ``network_allow`` empty (the default) lets through every address that is not
  denied; once it has entries, only those hosts and networks pass.
- The server's own API (its port on a loopback, unspecified or bound address)
  is always refused, so a controller cannot call the API with the server's
  authority.

A host name is resolved and every address it resolves to must pass.  A name
that does not resolve cannot be judged by address: it passes only when the
allow-list is empty or names it (the connection would fail the same way).
The check runs when a channel is created, when it is restored at start-up and
before each controller call; a name whose DNS answer changes between the
check and FFmpeg's own lookup is a residual risk that the allow-list closes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from framewarden.errors import ConfigError
from framewarden.redact import redact_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]

DEFAULT_DENY: tuple[str, ...] = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "metadata.google.internal",
    "metadata.goog",
)
DEFAULT_PORTS = {"http": 80, "https": 443, "rtmp": 1935, "rtmps": 443, "rtsp": 554, "rtsps": 322, "ws": 80}


class AddressRefusedError(ConfigError):
    """A URL points where the operator's network policy does not allow."""


def resolve_host(host: str) -> list[str]:
    """Every address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class _Entries:
    networks: tuple[IPNetwork, ...] = ()
    names: tuple[str, ...] = ()  # exact names, lower case
    suffixes: tuple[str, ...] = ()  # ".example.com" for "*.example.com"

    @classmethod
    def parse(cls, entries: Iterable[str], *, setting: str) -> _Entries:
        networks: list[IPNetwork] = []
        names: list[str] = []
        suffixes: list[str] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry.startswith("*."):
                suffixes.append(entry[1:])
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or ":" in entry or " " in entry:
                raise ConfigError(f"{setting}: {raw!r} is neither a network, a host name nor *.suffix")
            names.append(entry)
        return cls(tuple(networks), tuple(names), tuple(suffixes))

    def __bool__(self) -> bool:
        return bool(self.networks or self.names or self.suffixes)

    def has_name(self, host: str) -> bool:
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def has_address(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class NetworkPolicy:
    """The operator's rules for outgoing connections; :meth:`check_url` raises when refused."""

    allow: _Entries = field(default_factory=_Entries)
    deny: _Entries = field(default_factory=lambda: _Entries.parse(DEFAULT_DENY, setting="deny"))
    api_port: int | None = None  # the server's own API port, refused on local addresses
    api_hosts: tuple[str, ...] = ()  # the address the API binds (besides loopback / unspecified)
    resolver: Resolver = resolve_host

    @classmethod
    def build(
        cls,
        *,
        allow: Sequence[str] = (),
        deny: Sequence[str] = DEFAULT_DENY,
        api_port: int | None = None,
        api_host: str = "",
        resolver: Resolver = resolve_host,
    ) -> NetworkPolicy:
        return cls(
            allow=_Entries.parse(allow, setting="network_allow"),
            deny=_Entries.parse(deny, setting="network_deny"),
            api_port=api_port or None,
            api_hosts=tuple(h for h in (api_host,) if h),
            resolver=resolver,
        )

    @classmethod
    def from_settings(cls, settings: object) -> NetworkPolicy:
        """From :class:`~framewarden.config.Settings` (``network_allow``, ``network_deny``, host, port)."""
        return cls.build(
            allow=getattr(settings, "network_allow", ()),
            deny=getattr(settings, "network_deny", DEFAULT_DENY),
            api_port=getattr(settings, "port", None),
            api_host=str(getattr(settings, "host", "")),
        )

    # --- checks -------------------------------------------------------------------------
    def check_url(self, url: str, *, what: str = "URL") -> str:
        """``url`` when its host and port may be reached; else :class:`AddressRefusedError`."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host:
            raise AddressRefusedError(f"{what} {redact_url(url)}: no host")
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError:
            raise AddressRefusedError(f"{what} {redact_url(url)}: bad port") from None
        reason = self.refusal(host, port)
        if reason:
            raise AddressRefusedError(f"{what} {redact_url(url)}: {reason}")
        return url

    def refusal(self, host: str, port: int | None) -> str:
        """Why ``host:port`` is refused ("" when it may be reached)."""
        host = host.strip("[]").lower().rstrip(".")
        literal = _literal(host)
        addresses = [literal] if literal is not None else _parse_all(self.resolver(host))
        if literal is None and self.deny.has_name(host):
            return f"host {host} is denied by network_deny"
        for address in addresses:
            if self.deny.has_address(address):
                return f"address {address} is denied by network_deny"
        if port is not None and port == self.api_port and self._is_local(host, addresses):
            return f"port {port} on this machine is framewarden's own API"
        if not self.allow:
            return ""
        if literal is None and self.allow.has_name(host):
            return ""
        if not addresses:
            return f"host {host} does not resolve and is not in network_allow"
        outside = [a for a in addresses if not self.allow.has_address(a)]
        if outside:
            return f"address {outside[0]} is not in network_allow"
        return ""

    def _is_local(self, host: str, addresses: Sequence[IPAddress]) -> bool:
        if host == "localhost":
            return True
        bound = {a for h in self.api_hosts for a in _parse_all([h])}
        return any(a.is_loopback or a.is_unspecified or a in bound for a in addresses)


def _literal(host: str) -> IPAddress | None:
    try:
        return _unmapped(ipaddress.ip_address(host))
    except ValueError:
        return None


def _parse_all(values: Iterable[str]) -> list[IPAddress]:
    out: list[IPAddress] = []
    for value in values:
        address = _literal(value.split("%", 1)[0])  # drop an IPv6 zone id
        if address is not None:
            out.append(address)
    return out
