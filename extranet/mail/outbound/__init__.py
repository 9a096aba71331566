"""Outbound mail: new posts -> who is told, in which zone -> composer -> sent log -> relay.

Confirmations to senders and refusal notices go through the same composer (and confirmations
through the same queue)."""
