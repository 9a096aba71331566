"""The words of every message the site sends, in French and English.

`NOTIFICATION` is what the theme's mail templates read (as `t`); `CONFIRMATION` and `REFUSAL`
are the short messages the gateway answers with; the English refusal texts also explain a
refusal in the SMTP session (inbound.smtp).
"""

from __future__ import annotations

NOTIFICATION = {
    "fr": {
        "posted": "{author} a publié dans « {project} »", "posted_anon": "Nouveau message dans « {project} »",
        "in_reply_to": "En réponse à « {title} »", "view": "Voir sur le site", "attachments": "Pièces jointes",
        "attached": "jointe", "linked": "trop lourde pour être jointe : lien", "internal_post":
        "Message interne : réservé à l'équipe.", "internal_passage": "Passage interne : absent de la version partagée",
        "reply": "Répondez à ce courriel pour publier votre réponse sur le site.",
        "note": "Pour une note interne (visible de l'équipe seulement), écrivez à cette adresse :",
        "why": "Vous recevez ce message parce que vous participez au projet « {project} » sur {site}.",
        "digest_subject": "[{site}] Résumé du {day} : {count} message(s)",
        "digest_intro": "Les nouveaux messages du {day} :", "reply_link": "Répondre",
        "note_link": "Note interne", "why_digest": "Vous recevez ce résumé quotidien de {site}.",
    },
    "en": {
        "posted": "{author} posted in “{project}”", "posted_anon": "New post in “{project}”",
        "in_reply_to": "In reply to “{title}”", "view": "View on the site", "attachments": "Attachments",
        "attached": "attached", "linked": "too large to attach: link", "internal_post":
        "Internal post: staff only.", "internal_passage": "Internal passage: not in the shared version",
        "reply": "Reply to this email to post your answer on the site.",
        "note": "For an internal note (seen by staff only), reply to this address instead:",
        "why": "You receive this because you take part in the project “{project}” on {site}.",
        "digest_subject": "[{site}] Digest of {day}: {count} post(s)",
        "digest_intro": "New posts of {day}:", "reply_link": "Reply",
        "note_link": "Internal note", "why_digest": "You receive this daily digest from {site}.",
    },
}

CONFIRMATION = {
    "fr": {"subject": "Publié : {title}", "posted": "Votre message a été publié sur {site} :",
           "pending": "Votre message a bien été reçu ; il sera publié sur {site} après validation par l'équipe."},
    "en": {"subject": "Posted: {title}", "posted": "Your message is now on {site}:",
           "pending": "Your message was received; it will appear on {site} once the team approves it."},
}

REFUSAL: dict[str, dict[str, str]] = {
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


def texts(table: dict[str, dict[str, str]], language: str) -> dict[str, str]:
    """One language's texts of a table (English for a language it lacks)."""
    return table.get(language, table["en"])


def refusal_reason(reason: str, language: str) -> str:
    """Why a message was refused, in a sentence for its sender."""
    words = texts(REFUSAL, language)
    return words.get(reason) or words["other"].format(reason=reason)
