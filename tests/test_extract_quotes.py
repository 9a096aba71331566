"""Rules of the text trimmer (``extranet.mail.inbound.extract.trim_reply``), one convention per test."""

from __future__ import annotations

import pytest

from extranet.mail.inbound.extract import trim_reply
from extranet.mail.inbound.signatures import is_device_footer

ORIGINAL = "> Bonjour Jean,\n> voici le devis.\n"


def text(body: str) -> str:
    return trim_reply(body).text


@pytest.mark.parametrize("header", [
    "Le jeu. 12 mars 2026 à 10:15, Extranet <reply@x.example> a écrit :",
    "Le jeu. 12 mars 2026 à 10:15, Extranet <reply@x.example> a écrit\u00a0:",
    "Le jeu. 12 mars 2026 à 10:15, Extranet <reply@x.example> a écrit\u202f:",
    "Le jeu. 12 mars 2026 à 10:15, Extranet <\nreply@x.example> a écrit :",
    "Le 12 mars 2026 à 10:15, « Extranet » <reply@x.example> a\nécrit :",
    "On Thu, Mar 12, 2026 at 10:15 AM Extranet <reply@x.example>\nwrote:",
    "Am 12.03.2026 um 10:15 schrieb Extranet <reply@x.example>:",
    "El jue, 12 mar 2026 a las 10:15, Extranet (<reply@x.example>) escribió:",
    "2026-03-12 10:15 GMT+01:00 Extranet <reply@x.example>:",
])
def test_quote_headers_and_their_quote_are_dropped(header: str) -> None:
    assert text(f"Merci, c'est noté.\n\n{header}\n\n{ORIGINAL}") == "Merci, c'est noté."


@pytest.mark.parametrize("block", [
    "De\u00a0: Extranet\nEnvoyé\u00a0: jeudi 12 mars 2026 10:15\nÀ\u00a0: Jean\nObjet\u00a0: Devis",
    "-----Message d'origine-----\nDe : Extranet\nEnvoyé : jeudi 12 mars 2026 10:15",
    "-------- Message d'origine --------\nDe : Extranet <reply@x.example>\nDate : 12/03/2026 10:15 (GMT+01:00)",
    "----- Mail original -----\nDe: Extranet\nÀ: Jean\nEnvoyé: Jeudi 12 Mars 2026 10:15:03",
    "________________________________\nFrom: Extranet\nSent: Thursday, March 12, 2026 10:15 AM\nTo: Jean\nSubject: Devis",
    "*From:* Extranet\n*Sent:* Thursday, March 12, 2026\n*To:* Jean\n*Subject:* Devis",
    "**De :** Extranet\n**Envoyé :** jeudi 12 mars 2026\n**À :** Jean\n**Objet :** Devis",
    "Message du : 12/03/2026 10:15\nDe : Extranet\nA : jean@acme.example\nCopie à : \nSujet : Devis",
    "Début du message réexpédié :\n\nDe: Extranet\nObjet: Devis",
])
def test_unquoted_originals_are_cut_at_their_header_block(block: str) -> None:
    body = f"Merci, c'est noté.\n\nJean\n\n{block}\n\nBonjour Jean,\nvoici le devis.\n"
    assert text(body) == "Merci, c'est noté.\n\nJean"


def test_closing_formula_and_name_are_kept_but_not_the_block_under_them() -> None:
    body = ("Bonjour,\n\nC'est validé.\n\nCordialement,\n\nJean Dupont\nDirecteur technique\nACME Industries\n"
            "Tél. : +33 1 23 45 67 89\n12 rue de la Paix, 75002 Paris\n")
    assert text(body) == "Bonjour,\n\nC'est validé.\n\nCordialement,\n\nJean Dupont"
    assert text("Ok.\n\nBest regards,\nJohn\n") == "Ok.\n\nBest regards,\nJohn"


def test_a_ps_after_the_signature_is_kept() -> None:
    body = "C'est validé.\n\nCordialement,\nJean\n\nP.S. Pensez à apporter les badges.\n"
    assert text(body) == body.strip()


@pytest.mark.parametrize("footer", [
    "Envoyé de mon iPhone", "Envoyé depuis mon iPad", "Envoyé depuis mon smartphone Samsung Galaxy.",
    "Sent from my iPhone", "Sent from my BlackBerry 10 smartphone.", "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "Obtenir Outlook pour Android", "Envoyé à partir de Outlook pour iOS<https://aka.ms/o0ukef>",
    "Sent from my HTC phone. Please excuse typos", "Von meinem iPhone gesendet",
])
def test_device_footers_are_dropped(footer: str) -> None:
    assert is_device_footer(footer)
    assert text(f"D'accord.\n\n{footer}\n") == "D'accord."


@pytest.mark.parametrize("line", [
    "Sent from my desk, is much easier then my mobile phone.",
    "Envoyé de mon bureau, le document signé est parti ce matin.",
    "Envoyé par la poste hier : le colis arrivera lundi avec les échantillons demandés.",
])
def test_sentences_that_start_like_footers_are_kept(line: str) -> None:
    assert not is_device_footer(line)
    assert text(f"Bonjour,\n\n{line}\n") == f"Bonjour,\n\n{line}"


def test_signature_after_dash_dash_space_is_dropped() -> None:
    assert text("Voir pièce jointe.\n\n-- \nJean Dupont\n06 12 34 56 78\n") == "Voir pièce jointe."


@pytest.mark.parametrize("disclaimer", [
    "Ce message et toutes les pièces jointes sont confidentiels et établis à l'intention exclusive de ses destinataires.",
    "Si vous n'êtes pas le destinataire de ce message, merci de le détruire et d'avertir l'expéditeur.",
    "This e-mail and any attachments are confidential and intended solely for the addressee.",
    "Pensez à l'environnement avant d'imprimer ce message.",
])
def test_legal_disclaimers_are_dropped(disclaimer: str) -> None:
    assert text(f"Bien reçu.\n\nJean\n\n{disclaimer}\n") == "Bien reçu.\n\nJean"


def test_interleaved_answers_keep_their_quoted_questions() -> None:
    body = ("Le jeu. 12 mars 2026 à 10:15, Extranet <r@x.example> a écrit :\n> Validez-vous le planning ?\n\nOui.\n\n"
            "> Et la date de la démo ?\n\nMardi 17.\n\n> L'équipe projet\n")
    assert text(body) == "Oui.\n\n> Et la date de la démo ?\n\nMardi 17."


def test_nested_quotes_are_dropped_with_their_headers() -> None:
    body = ("Ok pour moi.\n\nOn Thu, Mar 12, 2026 at 11:00 AM Ann <ann@x.example> wrote:\n> Fine.\n>\n"
            "> On Thu, Mar 12, 2026 at 10:15 AM Bob <bob@x.example> wrote:\n>> Thursday?\n>>> older\n")
    assert text(body) == "Ok pour moi."


def test_a_line_the_sender_starts_with_gt_is_kept_and_escaped() -> None:
    assert text("Les seuils :\n>500 pièces : 5 %\n\nJean\n") == "Les seuils :\n\\>500 pièces : 5 %\n\nJean"


def test_bottom_posting_keeps_the_text_under_the_quote() -> None:
    body = "Le 12/03/2026 à 10:15, Extranet a écrit :\n> Bonjour Jean,\n> voici le devis.\n\nMerci, je regarde.\n"
    assert text(body) == "Merci, je regarde."


@pytest.mark.parametrize("body", [
    "On the other hand, we should be careful.\nOn average it works.\n",
    "Here are the times:\n2024-01-15 14:30:25\n15.01.2024 14:30\n",
    "Voici les points :\n- le lot 2\n- le lot 3\n",
    "Le 12 mars nous avons livré :\n- 3 palettes\n",
    "Service Description\n----------------------\nHosting  12 €\n\nMerci\n",
    "```\n-- \nOn 12 May 2020, X <a@b.example> wrote:\n> not a quote\n```\nAfter the code.\n",
])
def test_ordinary_text_is_not_cut(body: str) -> None:
    result = trim_reply(body)
    assert [ln.rstrip() for ln in result.text.split("\n")] == [ln.rstrip() for ln in body.strip().split("\n")]


def test_crlf_and_leading_indentation_are_handled() -> None:
    assert text("    code line\r\n\r\nMerci\r\n") == "    code line\n\nMerci"


def test_an_itinerary_is_kept_but_flagged_for_moderation() -> None:
    body = "Voici le trajet :\n\nDe : Paris\nÀ : Lyon\nDate : 12 mars\n\nMerci,\nJean"
    result = trim_reply(body)
    assert result.text == body
    assert "header-like lines left in the text" in result.reasons
