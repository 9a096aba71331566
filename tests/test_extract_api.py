"""The public API of the reply extractor: decoding, attachments, confidence, limits, CLI entry."""

from __future__ import annotations

import subprocess
import sys
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from extranet.mail.inbound.extract import ExtractedAttachment, Extraction, extract, extract_reply

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "replies"


def _message(body: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.get("sender", "Jean Dupont <jean@acme.example>")
    msg["To"] = "reply+abc@extranet.example"
    msg["Subject"] = headers.get("subject", "Re: Devis")
    msg["Date"] = "Thu, 12 Mar 2026 11:02:00 +0100"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def test_extract_returns_the_documented_record() -> None:
    result = extract((FIXTURES / "gmail_fr_alternative.eml").read_bytes())
    assert isinstance(result, Extraction)
    assert result.text.startswith("Bonjour,")
    assert "a écrit" not in result.text and "Voici le compte rendu" not in result.text
    assert "Voici le compte rendu" in result.original  # the full body stays available
    assert result.subject == "Re: Compte rendu de réunion"
    assert result.confident and result.reasons == ()


def test_extract_reply_is_the_text_and_accepts_a_bare_body() -> None:
    raw = (FIXTURES / "outlook_ios_fr.eml").read_bytes()
    assert extract_reply(raw) == extract(raw).text == "D'accord pour jeudi."
    bare = "One: here is the plan.\n\nOn Thu, Mar 12, 2026 at 10:15 AM X <x@y.example> wrote:\n> old\n"
    assert extract_reply(bare.encode()) == "One: here is the plan."


def test_a_minimal_message_with_few_headers_is_parsed_as_a_message() -> None:
    raw = b"From: a@b.example\nSubject: Re: test\n\nHello\n\nOn Mon, Mar 2, 2026 at 10:00 X <x@y.example> wrote:\n> hi\n"
    result = extract(raw)
    assert (result.text, result.subject) == ("Hello", "Re: test")


def test_rfc2047_subjects_are_decoded() -> None:
    assert extract((FIXTURES / "qp_iso_8859_1.eml").read_bytes()).subject == "Re: Compte rendu de réunion"
    assert extract((FIXTURES / "base64_utf8.eml").read_bytes()).subject == "Re: Compte rendu de réunion"
    assert extract((FIXTURES / "windows_1252_8bit.eml").read_bytes()).subject == "Re : Offre à 1 200 €"


def test_attachments_are_returned_with_raw_names_and_bytes() -> None:
    result = extract((FIXTURES / "attachment_pdf.eml").read_bytes())
    assert result.attachments == (
        ExtractedAttachment("Bon de commande signé.pdf", "application/pdf", b"%PDF-1.4\n% fixture\n", False, None),
    )
    csv = extract((FIXTURES / "mixed_plain_and_attachment_en.eml").read_bytes()).attachments
    assert [(a.filename, a.content_type, a.data) for a in csv] == [("order.csv", "text/csv", b"name,qty\nbolt,100\n")]


def test_inline_images_are_kept_as_inline_attachments() -> None:
    result = extract((FIXTURES / "inline_image_html_only.eml").read_bytes())
    (image,) = result.attachments
    assert image.inline and image.content_id == "ii_capture01" and image.content_type == "image/png"
    assert image.data.startswith(b"\x89PNG")
    assert "![capture.png](cid:ii_capture01)" in result.text


def test_no_raw_html_survives() -> None:
    result = extract((FIXTURES / "html_escaping.eml").read_bytes())
    assert "alert(\"x\")" not in result.text  # <script> elements are dropped
    assert "javascript:" not in result.text and "tracker.example" not in result.text
    assert "\\<script>" in result.text  # text that looked like HTML is escaped
    plain = extract(_message("Le champ affiche <b>gras</b> au lieu du nom.\n")).text
    assert plain == "Le champ affiche \\<b>gras\\</b> au lieu du nom."


def test_forwarded_message_as_attachment_is_an_eml_attachment() -> None:
    inner = EmailMessage()
    inner["Subject"] = "Devis initial"
    inner["From"] = "a@b.example"
    inner.set_content("Texte du devis initial.\n")
    outer = EmailMessage()
    outer["From"] = "Jean Dupont <jean@acme.example>"
    outer["Subject"] = "Tr: Devis initial"
    outer["Date"] = "Thu, 12 Mar 2026 11:02:00 +0100"
    outer.set_content("Voir le message joint.\n")
    outer.add_attachment(inner)
    result = extract(outer.as_bytes(policy=SMTP))
    assert result.text == "Voir le message joint."
    (att,) = result.attachments
    assert att.content_type == "message/rfc822" and att.filename == "Devis initial.eml"
    assert b"Texte du devis initial." in att.data


def test_unknown_charset_and_mislabelled_bytes_still_decode() -> None:
    raw = (b"From: a@b.example\r\nSubject: x\r\nDate: Thu, 12 Mar 2026 11:02:00 +0100\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=x-unknown-charset\r\n\r\nD\xc3\xa9j\xc3\xa0 vu.\r\n")
    assert extract_reply(raw) == "Déjà vu."
    ascii_labelled = raw.replace(b"x-unknown-charset", b"us-ascii").replace(b"\xc3\xa9", b"\xe9").replace(b"\xc3\xa0", b"\xe0")
    assert extract_reply(ascii_labelled) == "Déjà vu."


def test_part_and_depth_limits_are_enforced_and_reported() -> None:
    msg = EmailMessage()
    msg["From"] = "a@b.example"
    msg["Subject"] = "many parts"
    msg["Date"] = "Thu, 12 Mar 2026 11:02:00 +0100"
    msg.set_content("Corps du message.\n")
    for i in range(20):
        msg.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"f{i}.bin")
    result = extract(msg.as_bytes(policy=SMTP), max_parts=5)
    assert len(result.attachments) < 5 and not result.confident
    assert any("limits" in r for r in result.reasons)
    nested = b"From: a@b.example\r\nSubject: deep\r\nDate: Thu, 12 Mar 2026 11:02:00 +0100\r\nMIME-Version: 1.0\r\n"
    body = b"Texte profond.\r\n"
    for depth in range(15):
        b = f"b{depth}".encode()
        body = (b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n" + body + b"\r\n--" + b + b"--\r\n")
    deep = extract(nested + body, max_depth=10)
    assert deep.text == "" and not deep.confident


def test_doubtful_extractions_are_not_confident() -> None:
    cases = {
        "Merci pour le document.\n\nJean Dupont\nTél. 06 12 34 56 78\n": "phone",
        "> Bonjour Jean,\n> voici le devis.\n": "only quoted",
        "Bonjour,\n\n=== Répondez au-dessus de cette ligne ===\nAncien message\n": "separator",
        "Voici :\nDe : Jean\nObjet : test\n\nfin\n": "header-like",
        "Sent from my iPhone\n\nOn Mar 12, 2026, at 10:15, X <x@y.example> wrote:\n> hi\n": "no reply text",
        "---------- Forwarded message ---------\nFrom: A <a@b.example>\nDate: Thu, Mar 12, 2026\nSubject: x\n"
        "To: <d@e.example>\n\nOriginal text here.\n": "forwarded",
    }
    for body, reason in cases.items():
        result = extract(_message(body))
        assert not result.confident, body
        assert any(reason in r for r in result.reasons), (body, result.reasons)


def test_module_entry_point_prints_the_text() -> None:
    raw = (FIXTURES / "outlook_fr_message_d_origine.eml").read_bytes()
    out = subprocess.run([sys.executable, "-m", "extranet.mail.inbound.extract"], input=raw, capture_output=True,
                         check=True, cwd=ROOT).stdout.decode("utf-8")
    assert out == "Bonjour,\n\nMerci, je transmets au service achats.\n\nBien à vous,\nJean\n"


def test_hostile_inputs_finish() -> None:
    """Inputs built to make backtracking regexes explode still finish (time is not asserted)."""
    bodies = [
        "On " + "1 " * 50_000 + "wrote",
        ("> " * 5_000 + "x\n") * 20,
        ("Le 12 mars, " + "a" * 10_000 + " <x@y.example>\n") * 50,
        "De : " + "x " * 100_000,
        "-" * 200_000,
        "<" * 100_000,
        ("From: a\nSent: b\nTo: c\n" * 2_000),
    ]
    for body in bodies:
        assert isinstance(extract_reply(body.encode()), str)
    html = EmailMessage()
    html["From"] = "a@b.example"
    html["Date"] = "Thu, 12 Mar 2026 11:02:00 +0100"
    html.set_content("<div>" * 3_000 + "texte" + "</div>" * 3_000, subtype="html")
    assert "texte" in extract_reply(html.as_bytes(policy=SMTP))


def test_nul_bytes_never_reach_the_text(tmp_path: Path) -> None:
    raw = (b"From: Jean <jean@acme.example>\r\nSubject: Re: Plan\x00ning\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"\r\nBon\x00jour,\r\nle plan\x00 est valid\xc3\xa9.\r\n")
    result = extract(raw)
    assert "\x00" not in result.text + result.original + result.subject
    assert "Bonjour," in result.text and "le plan est validé." in result.text and result.subject == "Re: Planning"
