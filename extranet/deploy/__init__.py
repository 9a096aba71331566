"""Publishing the built zones: `extranet deploy` to a folder, rsync (SSH or daemon) or S3.

    snapshot of public/<zone>/ -> scan (hash, headers) -> list the destination -> plan
    -> upload (files, keyring, pages deepest first) -> delete what is stale -> manifest
"""
