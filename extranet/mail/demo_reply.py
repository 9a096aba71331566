"""Answer a notification from the outbox as its recipient would, for trying the gateway.

    python -m extranet.mail.demo_reply .extranet/outbox/<file>.eml "Merci, c'est validé." | extranet ingest

Writes to standard output a reply such as a mail client sends: From the notified person,
To the personal Reply-To address, the text on top and the notification quoted below.
"""

from __future__ import annotations

import sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path


def reply_to(notification: bytes, text: str) -> bytes:
    """The bytes of a plain-text reply to `notification`, quoting it as Thunderbird does."""
    note = BytesParser(policy=policy.default).parsebytes(notification)
    body = note.get_body(preferencelist=("plain",))
    quoted = "\n".join("> " + line for line in (body.get_content() if body else "").splitlines())
    msg = EmailMessage()
    msg["From"] = note["To"]
    msg["To"] = note["Reply-To"]
    msg["Subject"] = "Re: " + str(note["Subject"])
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="demo.example")
    if note["Message-ID"]:
        msg["In-Reply-To"] = note["Message-ID"]
        msg["References"] = note["Message-ID"]
    msg.set_content(f"{text}\n\nLe {formatdate(localtime=True)}, {note['From']} a écrit :\n{quoted}\n")
    return bytes(msg)


def main(argv: list[str]) -> int:
    """Command line: NOTIFICATION.eml TEXT."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.buffer.write(reply_to(Path(argv[0]).read_bytes(), argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
