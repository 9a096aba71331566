"""Inbound mail: transports -> spool -> parse once -> screen -> authenticate -> extract -> post file."""
