"""Every text the sites, the login page, the browser, the preview and the mail show, in
French and in English: the one message catalogue.

`texts(section, language)` gives a section's strings in a language (English for any other);
`format_date` writes a date as people of that language do. The browser's strings reach it in
each page that runs the script (protect/shell.py), never from a second copy.
"""

from __future__ import annotations

import datetime as dt

LANGUAGES = ("fr", "en")
CATALOGUE: dict[str, dict[str, dict[str, str]]] = {
    # the pages of both zones (render/)
    "site": {
        "fr": {
            "home": "Accueil",
            "projects": "Projets",
            "pages": "Pages",
            "zone_internal": "Site interne",
            "zone_mixed": "Espace projets partagé",
            "internal": "Interne",
            "shared": "Partagé",
            "internal_note": "Passage interne : absent du site partagé",
            "summary": "Résumé",
            "status_active": "En cours",
            "status_closed": "Clos",
            "participants": "Participants",
            "timeline": "Fil du projet",
            "files": "Fichiers",
            "no_posts": "Aucun message pour l'instant.",
            "by": "par",
            "in_reply_to": "En réponse à",
            "replies": "Réponses",
            "previous": "Précédent",
            "next": "Suivant",
            "tags": "Mots-clés",
            "tag": "Mot-clé",
            "original": "Message d'origine complet",
            "pending": "En attente de modération : visible seulement sur le site interne",
            "held": "Retenu, visible seulement sur le site interne (voir `extranet moderate list`) : il",
            "by_email": "reçu par courriel",
            "your_projects": "Vos projets",
            "no_projects": "Aucun projet.",
            "client": "client",
            "supplier": "fournisseur",
            "staff": "équipe",
            "skip": "Aller au contenu",
            "back_to_project": "Retour au projet",
            "updated": "Mis à jour",
            "posts_count": "messages",
            "body_internal": "La description du projet est interne.",
            "logout": "Se déconnecter",
            "preview_homes": "Aperçu : l'accueil de chaque personne (ce qu'elle voit après connexion)",
        },
        "en": {
            "home": "Home",
            "projects": "Projects",
            "pages": "Pages",
            "zone_internal": "Internal site",
            "zone_mixed": "Shared project space",
            "internal": "Internal",
            "shared": "Shared",
            "internal_note": "Internal passage: not on the shared site",
            "summary": "Summary",
            "status_active": "Active",
            "status_closed": "Closed",
            "participants": "Participants",
            "timeline": "Project timeline",
            "files": "Files",
            "no_posts": "No posts yet.",
            "by": "by",
            "in_reply_to": "In reply to",
            "replies": "Replies",
            "previous": "Previous",
            "next": "Next",
            "tags": "Tags",
            "tag": "Tag",
            "original": "Full original message",
            "pending": "Waiting for moderation: visible on the internal site only",
            "held": "Held back, on the internal site only (see `extranet moderate list`): it",
            "by_email": "received by email",
            "your_projects": "Your projects",
            "no_projects": "No projects.",
            "client": "client",
            "supplier": "supplier",
            "staff": "staff",
            "skip": "Skip to content",
            "back_to_project": "Back to the project",
            "updated": "Updated",
            "posts_count": "posts",
            "body_internal": "The project description is internal.",
            "logout": "Sign out",
            "preview_homes": "Preview: each person's home page (what they see once logged in)",
        },
    },
    # the login page and the page shown while a page decrypts (protect/shell.py)
    "login": {
        "fr": {
            "noscript": "Cette page est chiffrée. Activez JavaScript pour vous connecter et la lire ; votre navigateur la déchiffre localement, rien n'est envoyé au serveur.",
            "wait": "Déchiffrement…",
            "heading": "Connexion",
            "username": "Identifiant ou adresse e-mail",
            "password": "Mot de passe",
            "remember": "Se souvenir de moi sur cet appareil pendant {days} jours",
            "submit": "Se connecter",
            "help": "Votre mot de passe vous a été envoyé à la création de votre accès. Demandez-en un nouveau à votre contact si vous l'avez perdu.",
        },
        "en": {
            "noscript": "This page is encrypted. Enable JavaScript to sign in and read it; your browser decrypts it locally, nothing is sent to the server.",
            "wait": "Decrypting…",
            "heading": "Sign in",
            "username": "User name or email",
            "password": "Password",
            "remember": "Remember me on this device for {days} days",
            "submit": "Sign in",
            "help": "Your password was sent to you when your access was created. Ask your contact for a new one if you lost it.",
        },
    },
    # what the browser's script says (themes/default/static/extranet.js)
    "browser": {
        "fr": {
            "checking": "Vérification…",
            "refused": "Identifiant inconnu ou mot de passe incorrect.",
            "network": "Le fichier de connexion n'a pas pu être chargé. Vérifiez votre connexion et réessayez.",
            "unsupported": "Ce navigateur ne peut pas déchiffrer l'extranet (il faut un Chrome, Edge, Firefox ou Safari récent).",
            "expired": "Votre session est terminée. Veuillez vous reconnecter.",
            "loggedOut": "Vous êtes déconnecté. Vos clés ont été effacées de ce navigateur.",
            "denied": "Cette page ne fait pas partie des projets auxquels vous avez accès.",
            "damaged": "Ce fichier n'a pas pu être déchiffré : il est endommagé ou a été modifié.",
            "home": "Accueil",
            "logout": "Se déconnecter",
        },
        "en": {
            "checking": "Checking…",
            "refused": "Unknown user name or wrong password.",
            "network": "The sign-in file could not be loaded. Check your connection and try again.",
            "unsupported": "This browser cannot decrypt the extranet (it needs a recent Chrome, Edge, Firefox or Safari).",
            "expired": "Your session has ended. Please sign in again.",
            "loggedOut": "You are signed out. Your keys were removed from this browser.",
            "denied": "This page is not part of the projects you can open.",
            "damaged": "This file could not be decrypted: it is damaged or was modified.",
            "home": "Home",
            "logout": "Sign out",
        },
    },
    # the local preview (serve.py)
    "preview": {
        "fr": {
            "failed": "La construction a échoué",
            "missing": "Page introuvable",
            "hint": "Corrigez le fichier et enregistrez : cette page se recharge d'elle-même.",
            "as": "Aperçu du site partagé tel que le voit {} : cette page ne lui est pas ouverte.",
            "banner": "Aperçu local non chiffré — pas pour publication",
        },
        "en": {
            "failed": "Build failed",
            "missing": "Page not found",
            "hint": "Fix the file and save: this page reloads by itself.",
            "as": "Previewing the shared site as {} sees it: this page is not open to them.",
            "banner": "Local unencrypted preview — not for publication",
        },
    },
    # the notification of a post, and the daily digest (mail/outbound/post_mail.py, the mail templates)
    "notification": {
        "fr": {
            "posted": "{author} a publié dans « {project} »",
            "posted_anon": "Nouveau message dans « {project} »",
            "in_reply_to": "En réponse à « {title} »",
            "view": "Voir sur le site",
            "attachments": "Pièces jointes",
            "attached": "jointe",
            "linked": "trop lourde pour être jointe : lien",
            "internal_post": "Message interne : réservé à l'équipe.",
            "internal_passage": "Passage interne : absent de la version partagée",
            "reply": "Répondez à ce courriel pour publier votre réponse sur le site.",
            "note": "Pour une note interne (visible de l'équipe seulement), écrivez à cette adresse :",
            "why": "Vous recevez ce message parce que vous participez au projet « {project} » sur {site}.",
            "digest_subject": "[{site}] Résumé du {day} : {count} message(s)",
            "digest_intro": "Les nouveaux messages du {day} :",
            "reply_link": "Répondre",
            "note_link": "Note interne",
            "why_digest": "Vous recevez ce résumé quotidien de {site}.",
        },
        "en": {
            "posted": "{author} posted in “{project}”",
            "posted_anon": "New post in “{project}”",
            "in_reply_to": "In reply to “{title}”",
            "view": "View on the site",
            "attachments": "Attachments",
            "attached": "attached",
            "linked": "too large to attach: link",
            "internal_post": "Internal post: staff only.",
            "internal_passage": "Internal passage: not in the shared version",
            "reply": "Reply to this email to post your answer on the site.",
            "note": "For an internal note (seen by staff only), reply to this address instead:",
            "why": "You receive this because you take part in the project “{project}” on {site}.",
            "digest_subject": "[{site}] Digest of {day}: {count} post(s)",
            "digest_intro": "New posts of {day}:",
            "reply_link": "Reply",
            "note_link": "Internal note",
            "why_digest": "You receive this daily digest from {site}.",
        },
    },
    # the answer to a sender whose reply was posted (mail/outbound/confirmations.py)
    "confirmation": {
        "fr": {
            "subject": "Publié : {title}",
            "posted": "Votre message a été publié sur {site} :",
            "pending": "Votre message a bien été reçu ; il sera publié sur {site} après validation par l'équipe.",
        },
        "en": {
            "subject": "Posted: {title}",
            "posted": "Your message is now on {site}:",
            "pending": "Your message was received; it will appear on {site} once the team approves it.",
        },
    },
    # the answer to a refused sender, and why (mail/outbound/refusals.py; in English in the SMTP session)
    "refusal": {
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
    },
}
MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
}


def texts(section: str, language: str) -> dict[str, str]:
    """The strings of a section of the catalogue in `language` (English for any other)."""
    entries = CATALOGUE[section]
    return entries.get(language, entries["en"])


def format_date(value: dt.date, language: str) -> str:
    """A date as people write it: '5 janvier 2026' or 'January 5, 2026'."""
    month = MONTHS.get(language, MONTHS["en"])[value.month - 1]
    if language == "fr":
        return f"{value.day} {month} {value.year}"
    return f"{month} {value.day}, {value.year}"


def refusal_reason(reason: str, language: str) -> str:
    """Why a message was refused, in a sentence for its sender."""
    words = texts("refusal", language)
    return words.get(reason) or words["other"].format(reason=reason)
