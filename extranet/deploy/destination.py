"""Where a zone is published, parsed from one string of `[deploy]` (pure: no I/O).

Four forms, as people write them for rsync, the AWS CLI and a file manager:

    /var/www/projets/              a local or mounted folder (relative: to the site folder)
    deploy@web1:/var/www/projets/  rsync over SSH (keys and ~/.ssh/config of the user running it)
    rsync://web1/projets/          an rsync daemon (password, if any, from $RSYNC_PASSWORD)
    s3://projets-durand/site/      S3-compatible object storage ([deploy.s3] endpoint_url)

A secret never goes in the string: a password in a URL is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

Kind = Literal["folder", "ssh", "rsync", "s3"]

_SSH = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.*)$")
_URL = re.compile(r"^(?P<scheme>[a-z0-9]+)://(?:(?P<userinfo>[^@/]*)@)?(?P<host>[^/:]*)(?::(?P<port>\d+))?(?P<path>/.*)?$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class DestinationError(ValueError):
    """A destination string that cannot be used; the message says why and how to write it."""


@dataclass(frozen=True)
class Destination:
    """A parsed destination: its kind and where, with `path` always ending in "/" (or empty)."""

    kind: Kind
    text: str
    path: str  # folder: absolute path; ssh/rsync: remote path; s3: key prefix ("" or "a/b/")
    host: str = ""
    user: str = ""
    port: int | None = None
    bucket: str = ""

    @property
    def rsync_url(self) -> str:
        """The destination as rsync writes it (folder, host:path or rsync:// URL), ending in "/"."""
        if self.kind == "folder":
            return self.path
        if self.kind == "ssh":
            return f"{self.user + '@' if self.user else ''}{self.host}:{self.path}"
        port = f":{self.port}" if self.port else ""
        return f"rsync://{self.user + '@' if self.user else ''}{self.host}{port}/{self.path.lstrip('/')}"

    def place(self) -> tuple[str, str, str]:
        """(kind of storage, host or bucket, path) for the overlap check."""
        if self.kind == "s3":
            return ("s3", self.bucket, self.path)
        if self.kind == "folder":
            return ("folder", "", self.path)
        return (self.kind, f"{self.host}:{self.port or ''}", self.path)

    def contains(self, other: "Destination") -> bool:
        """Whether `other` is this destination or lies inside it (same storage)."""
        a, b = self.place(), other.place()
        return a[:2] == b[:2] and b[2].startswith(a[2])


def _no_option(text: str, *parts: str) -> None:
    """A host or user starting with '-' would reach rsync or ssh as an option."""
    if any(part.startswith("-") for part in parts if part):
        raise DestinationError(f"{text!r}: a destination, host or user cannot start with '-' (rsync and ssh "
                               "would read it as an option)")


def _slash(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def parse_destination(text: str, site_root: Path) -> Destination:
    """Parse one destination string; DestinationError names what is wrong."""
    text = text.strip()
    if not text:
        raise DestinationError("empty destination")
    _no_option(text, text)
    url = _URL.match(text)
    if url:
        scheme, userinfo, host = url["scheme"], url["userinfo"] or "", url["host"]
        if ":" in userinfo and scheme != "s3":
            raise DestinationError(f"{text!r}: no password in the destination (secrets never go in "
                                   "extranet.toml: use $RSYNC_PASSWORD, an SSH key or the provider's credentials file)")
        path = url["path"] or "/"
        if ".." in PurePosixPath(path).parts:
            raise DestinationError(f"{text!r}: no '..' in a destination")
        if scheme == "s3":
            if userinfo or url["port"]:
                raise DestinationError(f"{text!r}: write s3://bucket/prefix/ (credentials come from the "
                                       "environment or ~/.aws/credentials, never from extranet.toml)")
            if not _BUCKET.match(host):
                raise DestinationError(f"{text!r}: {host!r} is not a bucket name")
            prefix = path.strip("/")
            return Destination("s3", text, _slash(prefix) if prefix else "", bucket=host)
        _no_option(text, host, userinfo)
        if scheme == "rsync":
            module = path.strip("/")
            if not host or not module:
                raise DestinationError(f"{text!r}: write rsync://host/module/path/")
            return Destination("rsync", text, _slash(module), host=host, user=userinfo,
                               port=int(url["port"]) if url["port"] else None)
        if scheme == "ssh":
            if not host:
                raise DestinationError(f"{text!r}: write ssh://user@host/path/ or user@host:/path/")
            return Destination("ssh", text, _slash(path), host=host, user=userinfo,
                               port=int(url["port"]) if url["port"] else None)
        if scheme == "file":
            return _folder(path, text, site_root)
        raise DestinationError(f"{text!r}: unknown scheme {scheme}:// (use a folder, user@host:/path/, "
                               "rsync://host/module/ or s3://bucket/)")
    ssh = _SSH.match(text)
    if ssh and not text.startswith(("/", "./", "../")):
        path = ssh["path"] or "."
        _no_option(text, ssh["host"], ssh["user"] or "")
        if ".." in PurePosixPath(path).parts:
            raise DestinationError(f"{text!r}: no '..' in a destination")
        return Destination("ssh", text, _slash(path), host=ssh["host"], user=ssh["user"] or "")
    return _folder(text, text, site_root)


def _folder(path: str, text: str, site_root: Path) -> Destination:
    folder = Path(path).expanduser()
    if not folder.is_absolute():
        folder = site_root / folder
    folder = Path(_normalise(folder))
    root = Path(_normalise(site_root))
    if folder == Path("/") or folder == Path.home() or folder in root.parents or folder == root:
        raise DestinationError(f"{text!r}: a deploy folder holds only a zone; it cannot be {folder}")
    for inner in ("public", ".extranet", "content"):
        if folder == root / inner or root / inner in folder.parents:
            raise DestinationError(f"{text!r}: a deploy folder cannot be inside the site's {inner}/")
    return Destination("folder", text, _slash(str(folder)))


def _normalise(path: Path) -> str:
    """An absolute path with '.' and '..' resolved textually (the folder may not exist yet)."""
    parts: list[str] = []
    for part in path.parts[1:]:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/" + "/".join(parts)
