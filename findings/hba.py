"""Which clients a pg_hba.conf line admits, judged from `pg_hba_file_rules` as the server prints it.

The server prints an address line's mask as a netmask: `127.0.0.1` with `255.255.255.255`, `::1` with
`ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff`, `fe80::1` with `ffff:ffff:ffff:ffff::`; a line it could not
read has `error` set. Netmasks become prefix lengths (a mask that is not contiguous, which the
server accepts, is judged bit by bit), and a line is local when every address it admits is a
loopback address or one of the server's own. What cannot be read is "unreadable", never "remote".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..engines.snapshot import Catalog, HbaRule

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"),
            ipaddress.ip_network("::ffff:127.0.0.0/104"))  # the last: IPv4 loopback as an IPv6 socket sees it
# A host name as pg_hba.conf takes it (a leading dot matches a suffix).
HOST_NAME = re.compile(r"\.?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")
LOCAL_WORDS = {"samehost", "localhost"}
REMOTE_WORDS = {"all", "samenet"}


@dataclass(frozen=True)
class HbaReach:
    """Who a line admits: `local` (this machine only), `remote` (other machines too) or `unreadable`
    (with why); `shown` is the address as an operator writes it (`::1/128`, `samenet`)."""

    reach: Literal["local", "remote", "unreadable"]
    shown: str
    why: str | None = None


def prefix_length(netmask: str, version: int) -> int | None:
    """The prefix length a netmask (`255.255.255.0`, `ffff:ffff::`) or a prefix (`24`) stands for;
    None when it is neither, or is a mask whose ones are not contiguous."""
    mask = _mask_bits(netmask, version)
    if mask is None:
        return None
    length = bin(mask).count("1")
    return length if mask == _ones(length, 32 if version == 4 else 128) else None


def _ones(length: int, bits: int) -> int:
    return ((1 << length) - 1) << (bits - length)


def _mask_bits(netmask: str, version: int) -> int | None:
    netmask = netmask.strip()
    bits = 32 if version == 4 else 128
    if netmask.isdigit():
        length = int(netmask)
        return _ones(length, bits) if length <= bits else None
    try:
        mask = ipaddress.ip_address(netmask)
    except ValueError:
        return None
    return int(mask) if mask.version == version else None


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) does not change the address
    except ValueError:
        return None


def _within(address: IPAddress, mask: int, network: IPNetwork) -> bool:
    """Every address matching `address` under `mask` lies in `network` (contiguous mask or not)."""
    if address.version != network.version:
        return False
    net_mask = int(network.netmask)
    return mask & net_mask == net_mask and int(address) & net_mask == int(network.network_address)


def server_own_addresses(values: Iterable[str]) -> set[IPAddress]:
    """The literal addresses among `values` (listen_addresses entries, inet_server_addr()); wildcards
    (`*`, `0.0.0.0`, `::`) and names are no address of this machine in particular."""
    found = set()
    for value in values:
        address = _address(value.strip())
        if address is not None and not address.is_unspecified:
            found.add(address)
    return found


def reach(hba: HbaRule, server_addresses: Iterable[str] = ()) -> HbaReach:
    """Who the line admits. A line the server could not read, or an address or mask that cannot be
    read here, is `unreadable` with why: never judged as the worst case."""
    if hba.error:
        return HbaReach("unreadable", hba.address or "?", f"the server could not read it: {hba.error}")
    if hba.type == "local":
        return HbaReach("local", "local socket")
    text = (hba.address or "").strip()
    if not text:
        return HbaReach("unreadable", "?", "no address")
    word = text.lower()
    if word in LOCAL_WORDS:
        return HbaReach("local", text)
    if word in REMOTE_WORDS:
        return HbaReach("remote", text)
    host, _, prefix = text.partition("/")
    address = _address(host)
    if address is None:
        if not prefix and not hba.netmask and HOST_NAME.fullmatch(text):
            return HbaReach("remote", text)  # a host name: another machine (localhost is above)
        return HbaReach("unreadable", text, f"{text!r} is neither an address nor a host name")
    netmask = prefix or hba.netmask
    if not netmask:
        return HbaReach("unreadable", text, "an address without a netmask")
    mask = _mask_bits(netmask, address.version)
    if mask is None:
        return HbaReach("unreadable", f"{text} {netmask}", f"the netmask {netmask!r} cannot be read")
    length = prefix_length(netmask, address.version)
    shown = f"{address}/{length}" if length is not None else f"{address} mask {netmask}"
    if any(_within(address, mask, loopback) for loopback in LOOPBACK):
        return HbaReach("local", shown)
    bits = 32 if address.version == 4 else 128
    if mask == _ones(bits, bits) and address in server_own_addresses(server_addresses):
        return HbaReach("local", shown)
    return HbaReach("remote", shown)


def reaches(catalog: Catalog) -> list[tuple[HbaRule, HbaReach]]:
    """Each pg_hba line with who it admits, the server's own addresses counting as local."""
    own = catalog.server_addresses or []
    return [(hba, reach(hba, own)) for hba in catalog.hba_rules]


def unchecked_trust_lines(catalog: Catalog) -> list[tuple[HbaRule, HbaReach]]:
    """The lines that may trust and could not be judged: a line the server could not read (its
    method is unknown), or a trust line whose address cannot be read."""
    return [(hba, r) for hba, r in reaches(catalog)
            if r.reach == "unreadable" and (hba.error or hba.auth_method in (None, "trust"))]
