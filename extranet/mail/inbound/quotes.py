"""Where the quoted original starts: quote headers, separators, header blocks, quoted lines.

Every pattern here is applied to one *probe* line (or a few joined probe lines), each
capped at ``MAX_PROBE`` characters, and written without nested quantifiers so that
matching stays linear in the line length (no catastrophic backtracking).
"""

from __future__ import annotations

import functools
import re

from .signatures import SIG_DELIMITER, WEAK_DELIMITER, is_device_footer, is_disclaimer, signature_line

MAX_PROBE = 600
"""Characters of a line that any pattern looks at."""

_I = re.IGNORECASE

_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"), None)
_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009\t"), " ")
_SPECIAL = re.compile("[\u200b-\u200f\u2060\ufeff\u00a0\u202f\u2007\u2009\t]")


@functools.lru_cache(maxsize=1 << 16)
def probe(line: str) -> str:
    """Return the line as the patterns see it: bounded, unescaped, spaces normalised (memoised:
    the scans ask again for the same lines; trim_reply clears the memo after each message)."""
    s = line[:MAX_PROBE]
    if _SPECIAL.search(s):
        s = s.translate(_INVISIBLE).translate(_SPACES)
    if "\\" in s:
        s = _MD_ESCAPE.sub(r"\1", s)
    return s.replace("\u2019", "'").strip()


# --------------------------------------------------------------------- quoting
QUOTE_LINE = re.compile(r"^[ \t]{0,3}(?:[A-Z]{1,3})?>")
"""A quoted line: ``>``, or supercite initials such as ``JD>``."""

FENCE = re.compile(r"^\s{0,3}(?:```|~~~)")

# --------------------------------------------------------------------- quote headers
# A header ends on a line that ends with ':' (or 'wrote' / dashes for a few clients).
_HEADER_END = re.compile(r"(?:[:：]|wrote|writes|-{2,})\s*\**$", _I)


def header_end(p: str) -> bool:
    """True when a line can end a quote header (checks only the end of the line)."""
    return bool(_HEADER_END.search(p[-16:]))

QUOTED_CONTINUATION = re.compile(r"^>\s*(?:wrote\s*)?[:：]?$", _I)
"""A header wrapped so that its tail (``>:`` or ``> wrote:``) looks quoted."""

_VERBS = (
    r"(?:\b(?:wrote|writes|a\s+[ée]crit|schrieb|escribi[óo]|escreveu|ha\s+scritto|scrisse"
    r"|schreef|het\s+volgende\s+geschreven|geschreven|napisa[łl](?:\(a\))?|napisala"
    r"|kirjoitti|skrev|написал(?:\(а\)|а)?|пише|yazd[ıi]|[íi]rta)|写道|寫道)"
)
SPECIFIC_HEADERS = tuple(
    re.compile(p, _I)
    for p in (
        r"^-*\s*On\b.{3,400}?\b(?:wrote|writes)\s*[:：]?\s*-*$",
        r"^-*\s*Le\b.{3,400}?\ba\s+[ée]crit\s*[:：]?\s*-*$",
        r"^Am\b.{3,400}?\bschrieb\b.{0,200}?[:：]$",
        r"^Op\b.{3,400}?\b(?:schreef|geschreven)\b.{0,200}?[:：]$",
        r"^El\b.{3,400}?\bescribi[óo]\s*[:：]$",
        r"^(?:Il|In\s+data)\b.{3,400}?\b(?:ha\s+scritto|scrisse)\s*[:：]$",
        r"^Em\b.{3,400}?\bescreveu\s*[:：]$",
        r"^(?:W\s+dniu|Dnia)\b.{3,400}?\bnapisa[łl](?:\(a\))?\s*[:：]$",
        r"^Den\b.{3,400}?\bskrev\b.{0,200}?[:：]$",
    )
)
GENERIC_HEADERS = (
    # "... <date> ... Name <mail> wrote:" in any language (a digit or an address needed)
    re.compile(rf"^(?=.{{0,400}}[\d@]).{{0,400}}?{_VERBS}\s*[:：]\s*-*$", _I),
    # verbs that come before the name: "X schrieb am <date>:", "... skrev Name <mail>:"
    re.compile(r"^(?=.{0,400}[\d@]).{0,400}?\b(?:schrieb|skrev|schreef)\b.{1,200}?[:：]$", _I),
    # "Name <mail> wrote" without the colon
    re.compile(rf"^(?=.{{0,400}}@).{{0,400}}?{_VERBS}\s*-*$", _I),
    # "<date>, Name <mail>:" (Yandex, Mail.ru, Gmail in some locales)
    re.compile(r"^(?=.{0,400}\d).{0,400}?[\w.+'-]+@[\w-]+(?:\.[\w-]+)+\s*[>)]{0,2}\s*>?\s*[:：]$"),
)
ISO_DATE_HEADER = re.compile(
    r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}\b.{0,200}?(?:\bGMT[+-]\d|<[^<>@\s]{1,100}@[^<>\s]{1,200}>)"
)
"""Gmail's ``2016-03-03 17:21 GMT+01:00 Name <mail>`` header, often wrapped or cut."""

# --------------------------------------------------------------------- separators
_SEP_WORDS = (
    r"original message|message d'origine|message original|mail original|message transf[ée]r[ée]"
    r"|message r[ée]exp[ée]di[ée]|mail transf[ée]r[ée]|forwarded message|forwarded e-?mail"
    r"|urspr[üu]ngliche nachricht|originalnachricht|weitergeleitete nachricht|mensaje original"
    r"|mensaje reenviado|messaggio originale|messaggio inoltrato|oprindelig besked"
    r"|videresendt (?:meddelelse|melding)|opprinnelig melding|originalmeddelande"
    r"|vidarebefordrat meddelande|oorspronkelijk bericht|doorgestuurd bericht"
    r"|alkuper[äa]inen viesti|wiadomo[śs][ćc] oryginalna|oryginalna wiadomo[śs][ćc]"
    r"|исходное сообщение|пересылаемое сообщение|mensagem original|mensagem encaminhada"
    r"|reply message|original"
)
SEPARATORS = (
    re.compile(rf"^[*_\s]*-{{2,}}\s*(?:{_SEP_WORDS})\s*-{{2,}}[*_\s]*$", _I),
    re.compile(
        r"^[*_\s]*(?:begin forwarded message|d[ée]but du message (?:r[ée]exp[ée]di[ée]|transf[ée]r[ée])"
        r"|anfang der weitergeleiteten nachricht|inicio del mensaje reenviado"
        r"|inizio messaggio inoltrato|forwarded message)\s*[:：][*_\s]*$",
        _I,
    ),
)

# --------------------------------------------------------------------- header blocks
_KEY_KINDS = {
    "from": "from|de|von|van|da|fra|fr[åa]n|od|от|l[äa]hett[äa]j[äa]|felad[óo]|kimden"
    "|exp[ée]diteur|发件人|寄件者",
    "date": "sent|date|date d'envoi|envoy[ée] le|envoy[ée]|gesendet|datum|verzonden|inviato"
    "|data|enviad[oa]|sendt|skickat|wys[łl]ano|отправлено|l[äa]hetetty|发送时间|message du",
    "to": "to|[àa]|an|aan|para|til|till|do|кому|vastaanottaja|收件人",
    "subject": "subject|objet|sujet|betreff|onderwerp|oggetto|asunto|assunto|emne|[äa]mne"
    "|temat|тема|aihe|主题|主旨",
    "cc": "cc|cci|bcc|copie [àa]|copie|kopie|kopia|copia|копия|reply-to|r[ée]pondre [àa]"
    "|risposta|antwort an|importance|priorit[ée]",
}
_KEYS = "|".join(sorted("|".join(_KEY_KINDS.values()).split("|"), key=len, reverse=True))
HEADER_KEY = re.compile(rf"^[>\s]{{0,8}}\*{{0,2}}\s*({_KEYS})\s*\*{{0,2}}\s*[:：]", _I)
_KIND_OF = {
    k: kind for kind, alts in _KEY_KINDS.items() for k in alts.split("|") if "[" not in k
}


def header_key_kind(p: str) -> str | None:
    """Kind ('from', 'date', 'to', 'subject', 'cc') of an e-mail header line, else None."""
    head = p[:48].replace("：", ":")
    if ":" not in head or len(head.split(":", 1)[0].split()) > 4:
        return None
    m = HEADER_KEY.match(p)
    if not m:
        return None
    key = m.group(1).lower()
    if key in _KIND_OF:
        return _KIND_OF[key]
    for kind, alts in _KEY_KINDS.items():
        if re.fullmatch(alts, key, _I):
            return kind
    return None


SENTINEL_CUT = "XQUOTECUTX9F3A"
SENTINEL_SIG = "XSIGCUTX9F3A"
"""Lines that ``html2md`` puts before a client's quote or signature container."""


# ===================================================================== the scanner
class Scan:
    """Line-level view of a body: probes, quote and code flags, and the cut finders."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.probes = [probe(ln) for ln in lines]
        self.n = len(lines)
        self.code = code_flags(lines)
        self.quoted = [bool(QUOTE_LINE.match(ln)) and not c for ln, c in zip(lines, self.code)]
        self.ends = [header_end(p) for p in self.probes]
        self.next_end = [self.n] * (self.n + 1)  # first line at or after i that may end a header
        for k in range(self.n - 1, -1, -1):
            self.next_end[k] = k if self.ends[k] else self.next_end[k + 1]
        self.removed: set[int] = set()
        self.headed: set[int] = set()

    def next_nonblank(self, i: int) -> int | None:
        while i < self.n and not self.probes[i]:
            i += 1
        return i if i < self.n else None

    def find_cut(self) -> tuple[int, int, str | None, bool]:
        """Return (start, cut, kind, top): lines[start:cut] may hold the reply."""
        start, i, content, top = 0, 0, False, False
        while i < self.n:
            p = self.probes[i]
            if self.code[i] or not p:
                content = content or bool(p)
                i += 1
                continue
            if self.quoted[i]:
                content, i = True, i + 1
                continue
            ev = self.event_at(i)
            if ev is None:
                content, i = True, i + 1
                continue
            kind, end = ev
            if kind == "quote_header":
                nxt = self.next_nonblank(end + 1)
                if nxt is not None and self.quoted[nxt]:
                    self.removed.update(range(i, end + 1))
                    self.headed.add(nxt)
                    i = end + 1
                    continue
            if not content and kind in ("quote_header", "separator", "headers"):
                start, top, i = end + 1, True, end + 1
                continue
            return start, i, kind, top
        return start, self.n, None, top

    def event_at(self, i: int) -> tuple[str, int] | None:
        """What begins at unquoted line i, and the last line it spans."""
        p = self.probes[i]
        if p == SENTINEL_CUT:
            return "cut", i
        if p == SENTINEL_SIG or SIG_DELIMITER.match(p):
            return "signature", i
        if self.ends[i] and any(r.match(p) for r in SEPARATORS):
            nxt = self.next_nonblank(i + 1)
            end = self.header_block(nxt) if nxt is not None else None
            return "separator", end if end is not None else i
        if header_key_kind(p) in ("from", "date"):
            end = self.header_block(i)
            if end is not None:
                return "headers", end
        end = self.quote_header(i)
        if end is not None:
            return "quote_header", end
        if is_device_footer(p):
            return "device", i
        para_start = i == 0 or not self.probes[i - 1]
        if para_start and WEAK_DELIMITER.match(p) and self.weak_cut_ok(i):
            return "delimiter", i
        if para_start and i > 0 and is_disclaimer(self.paragraph(i)):
            return "disclaimer", i
        return None

    def paragraph(self, i: int) -> str:
        parts: list[str] = []
        while i < self.n and self.probes[i] and len(parts) < 12:
            parts.append(self.probes[i])
            i += 1
        return " ".join(parts)

    def header_block(self, i: int) -> int | None:
        """Last line of an e-mail header block (From/Sent/To/Subject...) starting at i."""
        kinds: set[str] = set()
        last, cont, j = i, 0, i
        while j < self.n and j < i + 14 and self.probes[j]:
            k = header_key_kind(self.probes[j])
            if k:
                kinds.add(k)
                last, cont = j, 0
            else:
                cont += 1
                if cont > 2:
                    break
            j += 1
        if len(kinds) < 3 or "subject" not in kinds:  # "De : Paris / À : Lyon / Date : 12/03" is prose
            return None
        if cont and j < self.n and not self.probes[j]:
            last = j - 1  # a wrapped last header (long Subject) runs to the blank line
        return last

    def quote_header(self, i: int) -> int | None:
        """Last line of an "On <date>, <name> wrote:" header starting at line i, or None."""
        p = self.probes[i]
        if self.next_end[i] > i + 5 or not _start_ok(p):
            return i if p[:1].isdigit() and ISO_DATE_HEADER.match(p) else None
        allow_blank = bool(_ON.match(p))
        parts: list[str] = []
        prev = ""
        for j in range(i, min(self.n, i + 6)):
            pj = self.probes[j]
            if not pj:
                if allow_blank:
                    continue
                break
            if self.code[j] or (self.quoted[j] and not QUOTED_CONTINUATION.match(pj)):
                break
            if j > i and _ends_sentence(prev):
                break
            parts.append(pj)
            prev = pj
            if not self.ends[j]:
                continue
            h = re.sub(r"\s+", " ", " ".join(parts))
            if len(h) > 500:
                break
            if any(r.match(h) for r in SPECIFIC_HEADERS):
                return j
            if any(r.match(h) for r in GENERIC_HEADERS):
                later = (" ".join(parts[k:]) for k in range(1, len(parts)))
                if any(r.match(t) for t in later for r in SPECIFIC_HEADERS):
                    return None  # the real header starts on a later line
                return j
        return i if ISO_DATE_HEADER.match(p) else None

    def weak_cut_ok(self, i: int) -> bool:
        """A ``***`` / ``---`` / ``===`` / ``___`` line ends the reply only when what follows is
        recognisably a signature or the quoted original: between the sender's own points it
        is just a separator."""
        nxt = self.next_nonblank(i + 1)
        if nxt is None:
            return True
        q = self.probes[nxt]
        if header_key_kind(q) or any(r.match(q) for r in SEPARATORS):
            return True
        return not self.sender_text_after(i)

    def sender_text_after(self, cut: int) -> bool:
        """Whether lines after ``cut`` (before the quoted original starts) hold text the sender
        wrote: anything but a signature block, a device footer, delimiters or a disclaimer
        (whatever follows a disclaimer paragraph is taken as more of it)."""
        k, limit = cut + 1, min(self.n, cut + 60)
        while k < limit:
            p = self.probes[k]
            if not p or WEAK_DELIMITER.match(p) or SIG_DELIMITER.match(p):
                k += 1
                continue
            if self.quoted[k] or p in (SENTINEL_CUT, SENTINEL_SIG) or self._original_starts(k):
                return False
            if not self.probes[k - 1] and is_disclaimer(self.paragraph(k)):
                return False
            if self.code[k] or not signature_line(p):
                return True
            k += 1
        return self.next_nonblank(k) is not None  # too long to be a signature

    def _original_starts(self, k: int) -> bool:
        """Whether the quoted original (a quote header, a separator, a header block) starts at k."""
        p = self.probes[k]
        if self.ends[k] and any(r.match(p) for r in SEPARATORS):
            return True
        if header_key_kind(p) in ("from", "date") and self.header_block(k) is not None:
            return True
        return self.quote_header(k) is not None

    def drop_quotes(self, start: int, cut: int) -> tuple[list[str], list[str]]:
        """Keep lines[start:cut] minus quote headers and quotes the sender did not answer."""
        qflag = list(self.quoted)
        for k in range(start + 1, cut - 1):  # a long quoted line wrapped without '>'
            if self.probes[k] and not qflag[k] and qflag[k - 1] and qflag[k + 1] and len(self.lines[k - 1]) >= 60:
                qflag[k] = True
        text_at = [0] * (cut + 1)  # prefix count of unquoted text lines
        for k in range(start, cut):
            is_text = bool(self.probes[k]) and not qflag[k] and k not in self.removed
            text_at[k + 1] = text_at[k] + is_text
        drop: set[int] = set(self.removed)
        dropped: list[str] = []
        escaped: dict[int, str] = {}
        k = start
        while k < cut:
            if k in self.removed or not qflag[k]:
                k += 1
                continue
            b0 = b1 = k
            m = k + 1
            while m < cut and m not in self.removed and (qflag[m] or not self.probes[m]):
                b1 = m if qflag[m] else b1
                m += 1
            nquoted = sum(1 for x in range(b0, b1 + 1) if qflag[x])
            real = b0 in self.headed or nquoted >= 2 or re.match(r"^\s*[A-Z]{0,3}>(?:[ >]|$)", self.lines[b0])
            after = text_at[cut] - text_at[b1 + 1] > 0
            before = text_at[b0] - text_at[start] > 0
            if real and (not after or (b0 in self.headed and not before)):
                drop.update(range(b0, b1 + 1))
                dropped.extend(self.lines[b0 : b1 + 1])
            elif not real:  # the sender's own line that starts with '>': not a Markdown quote
                escaped.update({x: re.sub(r"^(\s*)>", r"\1\\>", self.lines[x]) for x in range(b0, b1 + 1)})
            k = b1 + 1
        kept = [escaped.get(x, self.lines[x]) for x in range(start, cut) if x not in drop]
        return kept, dropped


def code_flags(lines: list[str]) -> list[bool]:
    """For each line, whether it belongs to a fenced code block (never cut inside one)."""
    flags, inside = [], False
    for ln in lines:
        if FENCE.match(ln):
            flags.append(True)
            inside = not inside
        else:
            flags.append(inside)
    return flags


_ON = re.compile(r"-*\s*On\b")
_DIGIT_AT = re.compile(r"[\d@]")
_INTRO = re.compile(r"(?:On|Le|Am|El|Il|Em|Op|Den|Dnia|W dniu|In data)\b")


def _start_ok(p: str) -> bool:
    if _ends_sentence(p):
        return False
    return bool(_DIGIT_AT.search(p) or _INTRO.match(p))


def _ends_sentence(p: str) -> bool:
    return bool(p) and p[-1] in ".!?…" and not (len(p) > 1 and p[-1] == "." and p[-2].isdigit())


def looks_like_header(p: str) -> bool:
    """True for a line that reads like a quote header, an e-mail header or a separator."""
    if header_key_kind(p) or (p[:1].isdigit() and ISO_DATE_HEADER.match(p)):
        return True
    if not header_end(p):
        return False
    return any(r.match(p) for r in SPECIFIC_HEADERS + GENERIC_HEADERS + SEPARATORS)
