"""Interface text of the sites and mails, in French and English."""

from __future__ import annotations

import datetime as dt

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "home": "Accueil", "projects": "Projets", "pages": "Pages", "zone_internal": "Site interne",
        "zone_mixed": "Espace projets partagé", "internal": "Interne", "shared": "Partagé",
        "internal_note": "Passage interne : absent du site partagé", "summary": "Résumé",
        "status_active": "En cours", "status_closed": "Clos", "participants": "Participants",
        "timeline": "Fil du projet", "files": "Fichiers", "no_posts": "Aucun message pour l'instant.",
        "by": "par", "in_reply_to": "En réponse à", "replies": "Réponses", "previous": "Précédent",
        "next": "Suivant", "tags": "Mots-clés", "tag": "Mot-clé", "original": "Message d'origine complet",
        "pending": "En attente de modération : visible seulement sur le site interne",
        "held": "Retenu, visible seulement sur le site interne (voir `extranet moderate list`) : il",
        "by_email": "reçu par courriel", "your_projects": "Vos projets", "no_projects": "Aucun projet.",
        "client": "client", "supplier": "fournisseur", "staff": "équipe", "skip": "Aller au contenu",
        "back_to_project": "Retour au projet", "updated": "Mis à jour", "posts_count": "messages",
        "body_internal": "La description du projet est interne.", "logout": "Se déconnecter",
        "preview_homes": "Aperçu : l'accueil de chaque personne (ce qu'elle voit après connexion)",
    },
    "en": {
        "home": "Home", "projects": "Projects", "pages": "Pages", "zone_internal": "Internal site",
        "zone_mixed": "Shared project space", "internal": "Internal", "shared": "Shared",
        "internal_note": "Internal passage: not on the shared site", "summary": "Summary",
        "status_active": "Active", "status_closed": "Closed", "participants": "Participants",
        "timeline": "Project timeline", "files": "Files", "no_posts": "No posts yet.",
        "by": "by", "in_reply_to": "In reply to", "replies": "Replies", "previous": "Previous",
        "next": "Next", "tags": "Tags", "tag": "Tag", "original": "Full original message",
        "pending": "Waiting for moderation: visible on the internal site only",
        "held": "Held back, on the internal site only (see `extranet moderate list`): it",
        "by_email": "received by email", "your_projects": "Your projects", "no_projects": "No projects.",
        "client": "client", "supplier": "supplier", "staff": "staff", "skip": "Skip to content",
        "back_to_project": "Back to the project", "updated": "Updated", "posts_count": "posts",
        "body_internal": "The project description is internal.", "logout": "Sign out",
        "preview_homes": "Preview: each person's home page (what they see once logged in)",
    },
}
_MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
}


def format_date(value: dt.date, language: str) -> str:
    """A date as people write it: '5 janvier 2026' or 'January 5, 2026'."""
    month = _MONTHS[language][value.month - 1]
    if language == "fr":
        return f"{value.day} {month} {value.year}"
    return f"{month} {value.day}, {value.year}"
