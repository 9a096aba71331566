"""Sender authentication: is the From domain vouched for by a DKIM signature we checked, or by
the Authentication-Results of the one mail server we trust?

A message is authenticated when its From domain is aligned with the domain (``d=``) of a DKIM
signature that verifies (checked here with dkimpy, DNS lookups through an injectable
function), or when the topmost ``Authentication-Results`` header of the trusted server
(``[mail] trusted_authserv_id``) says ``dkim=pass`` for an aligned ``header.d`` or
``dmarc=pass``. Alignment is relaxed, as in DMARC: the same domain, or one a subdomain of the
other (a signer controls the DNS of its ``d=``, so it cannot vouch for a sibling or a parent
it does not own). Signatures with a body length (``l=``) are ignored: anything could follow
the signed part. See docs/gateway.md for the trust model.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dkim

log = logging.getLogger(__name__)

DnsLookup = Callable[..., bytes | None]
"""dkimpy's ``dnsfunc``: ``lookup(name: bytes, timeout=5)`` -> the TXT record, or None."""

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)\b(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"\b(header\.d|header\.i|header\.from)\s*=\s*\"?@?([^\s;\"]+)", re.IGNORECASE)


@dataclass(frozen=True)
class AuthResult:
    """Whether the From domain is authenticated, why (for moderators and logs), and whether the
    answer may change on a retry (a DNS lookup failed)."""

    authenticated: bool
    detail: str
    temporary: bool = False


def aligned(from_domain: str, signer: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other (never a bare TLD)."""
    a, b = from_domain.lower().strip("."), signer.lower().strip(".")
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return "." in shorter and longer.endswith("." + shorter)


def dkim_domains(raw: bytes, lookup: DnsLookup | None = None, timeout: float = 5) -> tuple[tuple[str, ...], bool]:
    """The signing domains of the DKIM signatures of ``raw`` that verify, and whether a lookup
    failed (so that a later try might verify more)."""
    checker = dkim.DKIM(raw, timeout=timeout)
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    passed: list[str] = []
    failed_lookup = False
    for index in range(count):
        try:
            ok = checker.verify(idx=index, dnsfunc=lookup or dkim.dnsplug.get_txt)
        except dkim.KeyFormatError as exc:
            log.info("DKIM signature %d: no usable key: %s", index, exc)
            continue
        except dkim.DKIMException as exc:
            log.info("DKIM signature %d does not verify: %s", index, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - DNS trouble (timeouts, servers down): try again later
            log.warning("DKIM signature %d: lookup failed: %s", index, exc)
            failed_lookup = True
            continue
        if ok and b"l" not in (checker.signature_fields or {}):
            passed.append(checker.domain.decode("ascii", "replace").lower())
    return tuple(passed), failed_lookup


def trusted_results(headers: Iterable[str], authserv_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(DKIM-passing domains, DMARC-passing From domains) of the topmost Authentication-Results
    header written by ``authserv_id``; a DMARC pass without ``header.from`` counts for "" (this
    message's From). Headers of any other server are ignored: anyone can write them."""
    for value in headers:
        text = _COMMENT.sub(" ", " ".join(str(value).split()))
        server, _, rest = text.partition(";")
        if (server.split() or [""])[0].lower() != authserv_id.lower():
            continue
        dkim_pass: list[str] = []
        dmarc_pass: list[str] = []
        for item in rest.split(";"):
            match = _RESULT.match(item)
            if not match or match.group(2).lower() != "pass":
                continue
            method = match.group(1).lower()
            props = {k.lower(): v.lower() for k, v in _PROPERTY.findall(match.group(3))}
            if method == "dkim" and (props.get("header.d") or props.get("header.i")):
                dkim_pass.append(props.get("header.d") or props["header.i"].rpartition("@")[2])
            elif method == "dmarc":
                dmarc_pass.append(props.get("header.from", ""))
        return tuple(dkim_pass), tuple(dmarc_pass)
    return (), ()


def authenticate(
    sender: str,
    *,
    dkim_passed: Iterable[str] = (),
    results: Iterable[str] = (),
    authserv_id: str = "",
    dkim_failed_lookup: bool = False,
) -> AuthResult:
    """Decide from what was checked: the passing DKIM domains (ours) and the Authentication-Results
    headers (trusted only from ``authserv_id``). Pure."""
    domain = sender.rpartition("@")[2].lower()
    for signer in dkim_passed:
        if aligned(domain, signer):
            return AuthResult(True, f"DKIM signature of {signer} verified")
    if authserv_id:
        trusted_dkim, trusted_dmarc = trusted_results(results, authserv_id)
        for signer in trusted_dkim:
            if aligned(domain, signer):
                return AuthResult(True, f"{authserv_id}: dkim=pass for {signer}")
        if any(not d or aligned(domain, d) for d in trusted_dmarc):
            return AuthResult(True, f"{authserv_id}: dmarc=pass")
    signers = ", ".join(dkim_passed)
    detail = f"no valid DKIM signature of {domain}" + (f" (only of {signers})" if signers else "")
    if authserv_id:
        detail += f", and {authserv_id} reports no DKIM or DMARC pass for it"
    if dkim_failed_lookup:
        detail += "; a DNS lookup failed"
    return AuthResult(False, detail, temporary=dkim_failed_lookup)
