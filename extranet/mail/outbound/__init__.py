"""Outbound mail: new posts -> recipients per zone -> composer -> sent log -> relay; confirmations and refusal notices through the same composer and queue."""
