"""Git as the shared source: the gateway commits the posts it writes, pulls staff changes, pushes.

Driven through the git command line, in the site folder's work tree (the site may be a
sub-folder of the repository). The gateway commits only the files of its own posts, never
what staff left uncommitted; a pull replays the gateway's unpushed commits on the remote's
(`rebase --autostash`), and a conflict aborts it: the posts stay committed locally, nothing
is lost, and the caller tells staff. Git never prompts (no terminal, SSH in batch mode).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .content.frontmatter import FrontMatterError, parse
from .errors import ExtranetError

TIMEOUT = 120  # seconds for one git command (a fetch over a slow link)


class GitError(ExtranetError):
    """A git command failed; the message has git's first line of explanation."""


@dataclass(frozen=True)
class Pulled:
    """What a pull did: `changed` when staff commits came in; `conflict` names the remote
    commit that could not be combined with the gateway's (then nothing changed)."""

    changed: bool
    conflict: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class PostAuthor:
    """Who wrote a post (the commit's author) and which mail it came from."""

    name: str
    email: str


def _clean(text: str, limit: int) -> str:
    """One line of untrusted text fit for a commit message: no control characters, bounded."""
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in str(text))
    return re.sub(r"\s+", " ", text).strip()[:limit]


class Repo:
    """The git work tree holding a site folder."""

    def __init__(self, root: Path, remote: str = "origin", branch: str = "",
                 committer: tuple[str, str] = ("extranet gateway", "extranet@localhost")) -> None:
        self.root = root
        self.remote = remote
        self._branch = branch
        self.committer = committer

    @classmethod
    def find(cls, root: Path, **kwargs) -> "Repo | None":
        """The work tree `root` is in, or None (not in one, or git is not installed)."""
        if shutil.which("git") is None:
            return None
        repo = cls(root, **kwargs)
        try:
            inside = repo.git("rev-parse", "--is-inside-work-tree").strip()
        except GitError:
            return None
        return repo if inside == "true" else None

    def git(self, *args: str, check: bool = True) -> str:
        """Run one git command in the site folder; its standard output."""
        result = self._run(args)
        if check and result.returncode != 0:
            lines = (result.stderr or result.stdout).decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed: {lines[-1] if lines else 'exit ' + str(result.returncode)}")
        return result.stdout.decode("utf-8", "replace")

    def succeeds(self, *args: str) -> bool:
        """Whether a git command (a question such as check-ignore) answers yes (exit 0)."""
        return self._run(args).returncode == 0

    def _run(self, args: tuple[str, ...]) -> subprocess.CompletedProcess:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
               "GIT_COMMITTER_NAME": self.committer[0], "GIT_COMMITTER_EMAIL": self.committer[1]}
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        try:
            return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=self.root, env=env,
                                  capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise GitError(f"git {args[0]}: no answer in {TIMEOUT} s") from e

    def head(self) -> str:
        """The commit checked out."""
        return self.git("rev-parse", "HEAD").strip()

    @property
    def branch(self) -> str:
        """The branch pulled and pushed: the configured one, else the checked-out one."""
        return self._branch or self.git("rev-parse", "--abbrev-ref", "HEAD").strip()

    def commit(self, paths: list[str], author: PostAuthor, message: str) -> str | None:
        """Commit exactly `paths` (relative to the site folder) as `author`; the new commit, or
        None when they hold nothing new. Other changes in the work tree stay as they are."""
        present = [p for p in paths if (self.root / p).exists()]
        if not present:
            return None
        self.git("add", "--", *present)
        if not self.git("diff", "--cached", "--name-only", "--", *present).strip():
            return None
        name = _clean(author.name, 100).replace("<", "").replace(">", "") or "unknown"
        email = _clean(author.email, 200).replace("<", "").replace(">", "")
        self.git("commit", "--no-verify", "--quiet", f"--author={name} <{email}>",
                 "-m", message, "--", *present)
        return self.head()

    def untracked(self, pattern: str) -> list[str]:
        """Untracked (and not ignored) files matching a pathspec glob, relative to the site folder."""
        out = self.git("ls-files", "--others", "--exclude-standard", "-z", "--", pattern)
        return [p for p in out.split("\0") if p]

    def pull(self) -> Pulled:
        """Fetch the remote branch and put the local commits on top of it."""
        branch = self.branch
        try:
            self.git("fetch", "--quiet", self.remote, branch)
        except GitError as e:
            if "couldn't find remote ref" in str(e):
                return Pulled(False)  # a new remote: the first push creates the branch
            raise
        incoming = int(self.git("rev-list", "--count", "HEAD..FETCH_HEAD").strip() or 0)
        if not incoming:
            return Pulled(False)
        remote_head = self.git("rev-parse", "FETCH_HEAD").strip()
        before = self.head()
        try:
            self.git("rebase", "--autostash", "--quiet", "FETCH_HEAD")
        except GitError as e:
            self.git("rebase", "--abort", check=False)
            return Pulled(False, conflict=remote_head, detail=str(e))
        return Pulled(self.head() != before)

    def ahead(self) -> int:
        """How many local commits the remote branch does not have (as last fetched)."""
        ref = f"refs/remotes/{self.remote}/{self.branch}"
        if not self.git("rev-parse", "--verify", "--quiet", ref, check=False).strip():
            return int(self.git("rev-list", "--count", "HEAD").strip() or 0)
        return int(self.git("rev-list", "--count", f"{ref}..HEAD").strip() or 0)

    def push(self) -> None:
        """Push the checked-out commits to the remote branch (never forced)."""
        branch = self.branch
        self.git("push", "--quiet", self.remote, f"HEAD:refs/heads/{branch}")
        self.git("fetch", "--quiet", self.remote, branch)  # so that `ahead` sees the pushed commits


def post_paths(post_key: str) -> list[str]:
    """The files of an email post, relative to the site folder: the post, its original, its attachments."""
    project, _, rest = post_key.removeprefix("projects/").partition("/posts/")
    post_id = rest.removesuffix(".md")
    base = f"content/projects/{project}"
    return [f"{base}/posts/{post_id}.md", f"{base}/posts/{post_id}.original.txt", f"{base}/files/{post_id}"]


def post_message(root: Path, post_key: str, author: PostAuthor) -> str:
    """The commit message of an email post: which post, from whom, which mail."""
    try:
        data = parse((root / "content" / post_key).read_text(encoding="utf-8")).data
    except (OSError, UnicodeDecodeError, FrontMatterError):
        data = {}
    title = _clean(data.get("title", ""), 72) or post_key.rsplit("/", 1)[-1]
    lines = [f"Email post: {title}", "",
             f"From: {_clean(author.name, 100)} <{_clean(author.email, 200)}>",
             f"Post: content/{post_key}"]
    if data.get("in_reply_to"):
        lines.append(f"In reply to: {_clean(data['in_reply_to'], 200)}")
    if data.get("message_id"):
        lines.append(f"Message-ID: {_clean(data['message_id'], 300)}")
    if data.get("pending"):
        lines.append("Waiting for moderation (extranet moderate list).")
    return "\n".join(lines) + "\n"


def email_post_author(root: Path, rel: str) -> str | None:
    """The author id of an untracked file if it is an email post the gateway wrote, else None."""
    try:
        data = parse((root / rel).read_text(encoding="utf-8")).data
    except (OSError, UnicodeDecodeError, FrontMatterError):
        return None
    if data.get("source") == "email" and isinstance(data.get("author"), str):
        return data["author"]
    return None
