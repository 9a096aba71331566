"""Signatures, device footers, legal disclaimers and closing formulas of e-mail replies.

Our convention: keep the closing formula ("Cordialement,", "Best regards,") and the name
under it; drop a ``-- `` signature, the title/phone/address block under the name, device
footers ("Envoyé de mon iPhone", "Get Outlook for iOS") and legal disclaimers. Patterns
are applied to bounded probe lines (see ``quotes.probe``) and have no nested quantifiers.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE

SIG_DELIMITER = re.compile(r"^--\s*$")
WEAK_DELIMITER = re.compile(r"^(?:([-_=*#~+])\1+|ᐧ)$")

_LINKS = re.compile(r"<[^<>\s]{0,300}>|\(https?://[^()\s]{0,300}\)|https?://\S{0,300}")
_MD_LINK = re.compile(r"\[([^\[\]]{0,80})\]\([^()\s]{0,300}\)")
_DEVICE_LEAD = re.compile(
    r"^[(<\s]*(?:sent|envoy[ée]|exp[ée]di[ée])\s+(?:from|with|via|using|by|de|depuis"
    r"|[àa] partir d[e']|avec|par)\s+(?P<rest>.+)$",
    _I,
)
_DEVICE_OTHER = tuple(
    re.compile(p, _I)
    for p in (
        r"^(?:get|obtenir|t[ée]l[ée]charger|download)\s+outlook\s+(?:for|pour|f[üu]r)\s+(?:ios|android)",
        r"^von meinem .{1,40} gesendet\.?$",
        r"^gesendet (?:von|mit|vom|aus) .{1,40}$",
        r"^diese nachricht wurde von meinem .{1,60} gesendet\.?$",
        r"^(?:verzonden|verstuurd) (?:met|vanaf|van|via) .{1,40}$",
        r"^(?:sendt|skickat|skickad) (?:fra|fr[åa]n) .{1,40}$",
        r"^(?:enviado|enviada|inviato) (?:desde|de|do|da|dal|con|dal mio) .{1,40}$",
        r"^(?:wys[łl]ane|wyslane) (?:z|ze) .{1,40}$",
        r"^отправлено (?:с|из) .{1,40}$",
        r"^<<\s*sent (?:by|from) .{1,30}>>$",
        r"^(?:从我的|寄自我的).{1,30}$",
        r"^from my (?:iphone|ipad|android|mobile|phone|samsung|blackberry|galaxy).{0,20}$",
    )
)
_DEVICE_PREFIX = re.compile(
    r"^[(<\s\[*_]*(?:sent|envoy|exp[ée]d|get|obtenir|t[ée]l[ée]ch|download|von|gesendet|diese|verzonden"
    r"|verstuurd|sendt|skickat|enviad|inviato|wys[łl]ane|отправлено|<<|从|寄|from)",
    _I,
)
_DEVICE_EXCUSE = re.compile(r"excuse|typo|brevity|pardon|faute|frappe|bri[èe]vet[ée]|concision", _I)


def is_device_footer(p: str) -> bool:
    """True for "Sent from my iPhone", "Envoyé de mon iPad", "Get Outlook for iOS" lines."""
    if len(p) > 200 or not _DEVICE_PREFIX.match(p):
        return False
    s = _MD_LINK.sub(r"\1", p)
    s = _LINKS.sub(" ", s).strip(" ()*_")
    if any(r.match(s) for r in _DEVICE_OTHER):
        return True
    m = _DEVICE_LEAD.match(s)
    if not m:
        return False
    rest = m.group("rest").strip(" )>")
    head, _, tail = _split_head(rest)
    if len(head.split()) > 7:
        return False
    return not tail.strip() or bool(_DEVICE_EXCUSE.search(tail))


def _split_head(rest: str) -> tuple[str, str, str]:
    m = re.search(r"[,;.!]\s|\s-\s|[,;.!]$", rest)
    if not m:
        return rest, "", ""
    return rest[: m.start()], m.group(), rest[m.end():]


_DISCLAIMER_WORDS = ("confiden", "destinataire", "recipient", "addressee", "intended", "environ", "disclaimer",
                     "avertissement", "informazioni", "vertraulich", "privileg", "exclusi")


def is_disclaimer(paragraph: str) -> bool:
    """True for a legal disclaimer or "think before printing" paragraph."""
    low = paragraph.lower()
    return any(w in low for w in _DISCLAIMER_WORDS) and bool(DISCLAIMER.search(paragraph))


DISCLAIMER = re.compile(
    r"intended (?:solely |only )?for the (?:sole )?(?:use of the )?(?:addressee|recipient|individual|named|person)"
    r"|not the intended recipient|received this (?:e-?mail|message|communication) in error"
    r"|this (?:e-?mail|message|communication)(?: and any (?:attachments?|files)[^.]{0,60})?"
    r" (?:is|are|may be|may contain|contains?) (?:strictly )?(?:confidential|privileged)"
    r"|confidentiality notice|^disclaimer\s*:|consider the environment before printing"
    r"|destinataires? (?:exclusif|d[ée]sign[ée]|pr[ée]vu|mentionn[ée]|indiqu[ée])"
    r"|[àa] l'(?:intention|attention|usage) exclusi(?:ve|f)"
    r"|si vous n'[êe]tes pas (?:le|la|les|l')\s?destinataire"
    r"|si vous avez re[çc]u ce (?:message|courriel|mail|e-mail)[^.]{0,30} par erreur"
    r"|(?:ce|le pr[ée]sent) (?:message|courriel|mail|e-mail|courrier [ée]lectronique)"
    r"(?: et (?:toutes? )?(?:les|ses|ces|leurs|vos) (?:pi[èe]ces jointes|fichiers|annexes)[^.]{0,60})?"
    r" (?:est|sont|peut|peuvent) (?:strictement |[êe]tre )?(?:confidentiel|priv[ée])"
    r"|pensez [àa] l'environnement avant d'imprimer|^avertissement\s*:"
    r"|le informazioni contenute in questo messaggio|enth[äa]lt vertrauliche",
    _I,
)

# --------------------------------------------------------------------- closing formulas
CLOSING = re.compile(
    r"^(?:(?:best|kind|warm|warmest|many|with best|with kind|kindest)\s+regards|regards|best"
    r"|best wishes|cheers|thanks(?: again| a lot| in advance| so much)?|thank you(?: very much)?"
    r"|many thanks|sincerely|yours(?: sincerely| truly| faithfully)?|all the best|take care"
    r"|talk soon|respectfully|(?:bien |tr[èe]s |tr[èe]s bien )?cordialement|cdlt|bien [àa] (?:vous|toi)"
    r"|(?:meilleures |sinc[èe]res |bien sinc[èe]res |mes |nos )?salutations(?: distingu[ée]es| cordiales)?"
    r"|bonne (?:journ[ée]e|soir[ée]e|fin de journ[ée]e|semaine|continuation)|belle journ[ée]e"
    r"|[àa] (?:bient[ôo]t|tr[èe]s vite|plus)|merci(?: beaucoup| bien| encore| d'avance| par avance"
    r"| [àa] vous| pour tout| et bonne journ[ée]e)?|amicalement|amiti[ée]s|bises|respectueusement"
    r"|au plaisir|(?:mit )?(?:freundlichen|besten|lieben|viele) gr[üu](?:ß|ss)(?:en|e)?|gr[üu](?:ß|ss)e"
    r"|saludos|un saludo|cordiali saluti|saluti|met vriendelijke groet(?:en)?|groeten)\s*[,.!]*$",
    _I,
)
PHONE = re.compile(r"(?:\+|\b00|\()?\d[\d .\-()/]{7,20}\d")
EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
URL = re.compile(r"https?://|www\.", _I)


def _name_like(p: str) -> bool:
    """A short line that can be the sender's name under a closing formula."""
    if not 0 < len(p) <= 60 or len(p.split()) > 6 or p[-1] in ".!?:":
        return False
    return not (PHONE.search(p) or EMAIL.search(p) or URL.search(p))


def _sig_like(p: str) -> bool:
    """A line of a signature block: title, company, phone, address, link; not a sentence."""
    if re.match(r"(?:p\.?\s?s\.?|n\.?\s?b\.?)\b|>", p, re.IGNORECASE) or len(p) > 120:
        return False
    if PHONE.search(p) or EMAIL.search(p) or URL.search(p):
        return True
    words = len(p.split())
    return words <= 4 or (words <= 10 and p[-1] not in ".!?:")  # "CEO @ Acme !", "ACME Industries"


def signature_line(p: str) -> bool:
    """A line that can belong to a signature block (a name, a title, a phone number, an
    address, a link, a device footer), not a sentence the sender wrote."""
    return is_device_footer(p) or _sig_like(p)


def trim_signature_block(out: list[str], probes: list[str]) -> list[str]:
    """After "Cordialement," and the name under it, drop a title/phone/address block."""
    nonblank = [k for k, p in enumerate(probes) if p]
    for c in reversed(nonblank[-15:]):
        if out[c].lstrip()[:1] == ">":
            return out
        if not CLOSING.match(probes[c]):
            continue
        rest = [k for k in nonblank if k > c]
        if not rest:
            return out
        tail = rest[1:] if _name_like(probes[rest[0]]) else rest
        if tail and len(tail) <= 12 and all(_sig_like(probes[k]) for k in tail):
            return out[: tail[0]]
        return out
    return out
