"""The Content-Security-Policy every page of both zones carries, in the page itself and in
the headers the generated server snippets set: nothing loads from another site."""

from __future__ import annotations


def content_security_policy(remote_images: bool = False, *, header: bool = False) -> str:
    """The policy: only this site's own files, images decrypted in the page (`blob:`), and
    remote images only where the site opted in. `header`: with what only a header can carry."""
    img = "'self' blob:" + (" https:" if remote_images else "")
    policy = f"default-src 'self'; img-src {img}; object-src 'none'; base-uri 'none'; form-action 'self'"
    return policy + ("; frame-ancestors 'none'" if header else "")
