"""Refusal notices: one short explanation to a refused human sender, at most once a day.

``build_notice`` is pure; ``Notifier`` adds the rate limit (a small JSON file in the
spool directory) and the injected ``send`` callable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..inbound.screening import LOOP_HEADER
from ...output import atomic_write

DAY = 24 * 3600

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Not posted: {subject}",
        "intro": "Your message could not be posted on {site}.",
        "outro": "This is an automatic answer; you will not get another one today for this reason.",
        "unknown_recipient": "The address you wrote to is not a valid reply address. Please reply to a notification you received.",
        "bad_token": "The reply address is not valid (it may be damaged or too old). Please reply to a recent notification.",
        "sender_mismatch": "This reply address belongs to another person. Please reply from the address that received the notification.",
        "unknown_person": "This reply address does not match anyone with access to the site.",
        "expired": "Your access to this site has ended. Please contact your correspondent if you still need it.",
        "oversize": "The message is too large. Please send a shorter message or smaller attachments.",
        "malformed": "The message could not be read (its sender address is missing or ambiguous).",
        "no_access": "You do not have access to the message you replied to (any more).",
        "unknown_post": "The message you replied to no longer exists on the site.",
        "empty": "The message was empty once the quoted text was removed.",
        "unauthenticated": "Your mail server did not prove that the message comes from your address (no valid DKIM signature), and this site only accepts proven messages.",
        "timeout": "The message could not be processed for several days because of a problem on our side. Please send it again later, or contact your correspondent.",
        "other": "Reason: {reason}.",
    },
    "fr": {
        "subject": "Non publié : {subject}",
        "intro": "Votre message n'a pas pu être publié sur {site}.",
        "outro": "Ceci est une réponse automatique ; vous n'en recevrez pas d'autre aujourd'hui pour ce motif.",
        "unknown_recipient": "L'adresse à laquelle vous avez écrit n'est pas une adresse de réponse valide. Merci de répondre à une notification reçue.",
        "bad_token": "L'adresse de réponse n'est pas valide (abîmée ou trop ancienne). Merci de répondre à une notification récente.",
        "sender_mismatch": "Cette adresse de réponse appartient à une autre personne. Merci de répondre depuis l'adresse qui a reçu la notification.",
        "unknown_person": "Cette adresse de réponse ne correspond à personne ayant accès au site.",
        "expired": "Votre accès à ce site a pris fin. Contactez votre interlocuteur si vous en avez encore besoin.",
        "oversize": "Le message est trop volumineux. Merci d'envoyer un message plus court ou des pièces jointes plus légères.",
        "malformed": "Le message n'a pas pu être lu (adresse d'expéditeur absente ou ambiguë).",
        "no_access": "Vous n'avez pas (ou plus) accès au message auquel vous avez répondu.",
        "unknown_post": "Le message auquel vous avez répondu n'existe plus sur le site.",
        "empty": "Le message était vide une fois le texte cité retiré.",
        "unauthenticated": "Votre serveur de messagerie n'a pas prouvé que le message vient de votre adresse (pas de signature DKIM valide), et ce site n'accepte que des messages prouvés.",
        "timeout": "Le message n'a pas pu être traité pendant plusieurs jours à cause d'un problème de notre côté. Merci de le renvoyer plus tard ou de contacter votre interlocuteur.",
        "other": "Motif : {reason}.",
    },
}


_SMTP_CODES = {
    "oversize": "552 5.3.4",
    "unknown_recipient": "550 5.1.1",
    "bad_token": "550 5.1.1",
    "unknown_person": "550 5.1.1",
    "malformed": "550 5.6.0",
}


def smtp_reply(reason: str) -> str:
    """The SMTP reply refusing a message in the session, with the English explanation."""
    text = _TEXTS["en"].get(reason) or _TEXTS["en"]["other"].format(reason=reason)
    return f"{_SMTP_CODES.get(reason, '550 5.7.1')} {text}"


def build_notice(
    *,
    to: str,
    reason: str,
    language: str,
    from_addr: str,
    site: str,
    loop_id: str,
    subject: str = "",
    in_reply_to: str | None = None,
) -> EmailMessage:
    """The explanation mail for one refusal (RFC 3834 auto-reply, marked with our loop header)."""
    texts = _TEXTS.get(language, _TEXTS["en"])
    explanation = texts.get(reason) or texts["other"].format(reason=reason)
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = to
    msg["Subject"] = texts["subject"].format(subject=" ".join(subject.split())[:120] or "—")
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-replied"
    msg[LOOP_HEADER] = loop_id
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    msg.set_content(f"{texts['intro'].format(site=site)}\n\n{explanation}\n\n-- \n{texts['outro']}\n")
    return msg


class Notifier:
    """Sends refusal notices through ``send``, at most one per sender and reason per ``window``."""

    def __init__(
        self,
        state_path: Path,
        send: Callable[[EmailMessage], None],
        *,
        from_addr: str,
        site: str,
        language: str,
        loop_id: str,
        window: float = DAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_path = Path(state_path)
        self.send = send
        self.from_addr = from_addr
        self.site = site
        self.language = language
        self.loop_id = loop_id
        self.window = window
        self.clock = clock

    def notify(
        self, to: str, reason: str, *, subject: str = "", in_reply_to: str | None = None
    ) -> bool:
        """Send a notice unless one went to ``to`` for ``reason`` within the window.

        Returns whether a notice was sent. The state is written before sending: after a
        crash in between, one notice may be missing, never repeated.
        """
        now = self.clock()
        state = {k: v for k, v in self._load().items() if now - v < self.window}
        key = f"{to.strip().lower()} {reason}"
        if key in state:
            return False
        state[key] = now
        atomic_write(self.state_path, json.dumps(state, sort_keys=True, indent=0).encode(), mode=0o600)
        self.send(
            build_notice(
                to=to,
                reason=reason,
                language=self.language,
                from_addr=self.from_addr,
                site=self.site,
                loop_id=self.loop_id,
                subject=subject,
                in_reply_to=in_reply_to,
            )
        )
        return True

    def _load(self) -> dict[str, float]:
        try:
            data = json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
