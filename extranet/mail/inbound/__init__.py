"""Inbound mail: transport -> spool -> parse once -> screen -> authenticate -> extract -> post file.

Never imports render nor outbound: the gateway is given what it answers with (refusal notices)
and what follows its batches."""
