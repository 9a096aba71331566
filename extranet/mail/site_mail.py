"""The mail side of one site, assembled from its settings: the inbound gateway and the batch after it.

    transports -> Gateway (spool, checks, PostWriter, refusal notices) -> Batch (commit, build,
    notify, confirm, deploy)

`extranet gateway` runs it (`SiteMail.run`), `extranet ingest` hands it one message.
"""

from __future__ import annotations

import logging
import threading
from email.message import EmailMessage
from pathlib import Path

from .. import config
from ..content.loader import load_project
from ..publishing import Publishing
from .batch import Batch, SiteBuilds
from .daemon import Transports, run_gateway
from .inbound.authentication import DnsLookup
from .inbound.directory import SiteDirectory
from .inbound.gateway import Gateway, GatewayPolicy
from .inbound.post_writer import PostWriter
from .inbound.spool import Spool
from .outbound.composer import Composer, Sender
from .outbound.confirmations import Confirmations
from .outbound.refusals import RefusalNotices
from .outbound.relay import send_now, transport_for
from .reply_keys import site_token_keys

log = logging.getLogger("extranet")


class SiteMail:
    """The gateway of the site at `root`, with the batch that follows each of its batches."""

    def __init__(self, root: Path, *, rebuild: bool = True, dns: DnsLookup | None = None) -> None:
        """`rebuild` False: write and confirm posts, never build; `dns`: how DKIM keys are
        looked up (None: the system resolver)."""
        self.root = root
        self.settings, _ = config.load(root)
        settings = self.settings
        if not settings.mail.reply_domain:
            raise config.ExtranetError("extranet.toml: [mail] reply_domain is needed to receive replies")
        self.builds = SiteBuilds(root) if rebuild else None
        load = self.builds.load_project if self.builds is not None else load_project
        spool = Spool(settings.state_dir / "spool")
        policy = GatewayPolicy(reply_domain=settings.mail.reply_domain, token_keys=site_token_keys(settings),
                               own_addresses=tuple(a for a in (settings.mail.from_addr,) if a),
                               loop_id=settings.mail.reply_domain, max_size=settings.mail.max_message_size,
                               auth=settings.mail.auth, trusted_authserv_id=settings.mail.trusted_authserv_id, dns=dns)
        notices = RefusalNotices(spool.root / "notices.json", self._send, Composer(Sender.of(settings)))
        self.gateway = Gateway(spool, PostWriter(root, load=load), policy, SiteDirectory(root), notices)
        confirmations = Confirmations(spool, settings.state_dir, lambda: transport_for(self.settings))
        confirmations.start()
        self.publishing = Publishing(root, settings)  # git commit of posts, deploy after builds
        self.batch = Batch(root, self.builds, self.publishing, confirmations, load)

    def _send(self, msg: EmailMessage) -> None:
        try:
            send_now(self.settings, msg)
        except Exception as e:  # noqa: BLE001 - a courtesy message never blocks the pipeline
            log.warning("could not send a message to %s: %s", msg["To"], e)

    def run(self, transports: Transports, stop: threading.Event, interval: float = 5.0) -> None:
        """Run the transports and the processor until `stop` is set: mail is spooled from the
        first second, then the site is built once, then each batch is followed by the Batch."""
        run_gateway(self.gateway, transports, stop, interval, prepare=self.batch.start, after=self.batch)
