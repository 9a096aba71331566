"""Mail in and out of a site.

    inbound/   transport (SMTP | IMAP | stdin) -> spool (durable) -> parse once -> screen
               -> authenticate -> extract the reply -> neutralise -> post file
    outbound/  new posts -> who is told, in which zone -> composer -> sent log -> relay;
               confirmations to senders and refusal notices through the same composer
    batch.py   after each batch of the gateway: commit posts -> build -> notify -> confirm

Shared by both sides: reply tokens (tokens.py), the site's token keys and reply addresses
(reply_keys.py), the texts of every message (texts.py) and the loop header below. Inbound never
imports render or outbound; no module here decides what a zone shows: zones.Rules does.
"""

LOOP_HEADER = "X-Extranet-Loop"
"""Marks the mail the site sends, with its reply domain as value: the gateway drops whatever
comes back with it (an auto-reply quoting us, a forwarding loop)."""
