"""What the gateway does around its rebuilds, when the site asks for it.

    email posts written -> commit them in git ([git] commit) -> rebuild -> deploy ([deploy] after_build)
    every [git] pull_every seconds: pull staff changes -> rebuild if any -> deploy; push ([git] push)

Each part is on only when configured (and git only when the site folder is in a git work
tree). Nothing here can lose a post: a post is a file in content/ before any of this runs; a
failed commit is made at the next batch (untracked email posts are committed then), a failed
deploy is tried again, a conflicting pull is undone and staff are told.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from . import config
from .deploy.publisher import Publisher
from .gitsync import GitError, PostAuthor, Repo, email_post_author, post_message, post_paths
from .reports import tell

log = logging.getLogger("extranet")
EMAIL_POSTS = "content/projects/*/posts/*.md"


class Publishing:
    """The gateway's git and deploy steps for the site at `root`."""

    def __init__(self, root: Path, settings: config.Settings, *, publisher: Publisher | None = None) -> None:
        self.root = root
        self.settings = settings
        git = settings.git
        wanted = git.commit or git.pull_every > 0 or git.push
        repo = Repo.find(root, remote=git.remote, branch=git.branch,
                         committer=("extranet gateway", settings.mail.from_addr or "extranet@localhost")) \
            if wanted else None
        # a site the repository ignores (a copy made with `extranet init` inside a clone) is not its to commit
        self.repo = repo if repo is not None and not repo.succeeds("check-ignore", "-q", "extranet.toml") else None
        if settings.deploy.after_build and settings.deploy.zones:
            self.publisher = publisher or Publisher(root, settings.deploy.report_to)
        else:
            self.publisher = None
        self._git = threading.Lock()  # one git command sequence at a time (commits, pulls)
        self._conflict: str | None = None  # the remote commit last reported as conflicting

    def posts_written(self, posted: list[tuple[str, str]]) -> None:
        """Commit each new email post (and any a crash left uncommitted), its sender as the author."""
        if self.repo is None or not self.settings.git.commit:
            return
        _, people = config.load(self.root)
        with self._git:
            try:
                known = {key for key, _ in posted}
                left = [(rel.removeprefix("content/"), author) for rel in self.repo.untracked(EMAIL_POSTS)
                        if (author := email_post_author(self.root, rel)) and rel.removeprefix("content/") not in known]
            except GitError as e:
                log.error("git: %s", e)
                left = []
            for key, pid in [*posted, *left]:
                person = people.people.get(pid)
                author = PostAuthor(person.name, person.email) if person else PostAuthor(pid, "unknown@invalid")
                try:
                    self.repo.commit(post_paths(key), author, post_message(self.root, key, author))
                except GitError as e:
                    log.error("could not commit %s (it is safe in content/; committed with the next post): %s", key, e)
            if self.settings.git.push:
                self._push()

    def rebuilt(self) -> None:
        """After a rebuild that worked: deploy (in the background when started)."""
        if self.publisher is not None:
            self.publisher.request()

    def start(self, stop: threading.Event, rebuild: Callable[[str], None]) -> list[threading.Thread]:
        """Run the deploy thread and the schedule of pulls until `stop` is set."""
        threads = []
        if self.publisher is not None:
            threads.append(self.publisher.start(stop))
        every = self.settings.git.pull_every
        if self.repo is not None and every > 0:
            def pulls() -> None:
                while not stop.wait(every):
                    try:
                        if self.sync():
                            rebuild("rebuild after staff changes")
                    except Exception as e:  # noqa: BLE001 - the next pull tries again
                        log.warning("git pull: %s", e)

            thread = threading.Thread(target=pulls, name="git-pull", daemon=True)
            thread.start()
            threads.append(thread)
        return threads

    def sync(self) -> bool:
        """Pull staff changes (then push, when asked); True when the pull brought changes."""
        if self.repo is None:
            return False
        with self._git:
            pulled = self.repo.pull()
            if pulled.conflict:
                if pulled.conflict != self._conflict:
                    self._conflict = pulled.conflict
                    tell(self.root, self.settings.git.report_to, "git pull conflicts with the gateway's posts",
                         f"The gateway could not put its commits on top of {self.repo.remote}/{self.repo.branch} "
                         f"({pulled.conflict[:12]}):\n\n{pulled.detail}\n\n"
                         "Nothing is lost: the posts stay committed in the site folder on the server, and "
                         "the site is built from them. Resolve it there (git pull --rebase, fix, "
                         "git rebase --continue) or change the conflicting file in your clone and push; "
                         "the gateway tries again at each pull.\n")
                return False
            self._conflict = None
            if self.settings.git.push:
                self._push()
            return pulled.changed

    def _push(self) -> None:
        try:
            if self.repo is not None and self.repo.ahead():
                self.repo.push()
        except GitError as e:
            log.warning("git push (tried again after the next pull): %s", e)
