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
