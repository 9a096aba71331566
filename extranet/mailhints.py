"""The DNS records a site's mail needs, worked out from its settings (pure: no lookup is made).

Mail from `[mail] from` is trusted by the recipients' servers when its domain publishes SPF
(which servers may send for it), DKIM (the key signing it) and DMARC (what to do with mail
failing both); replies reach the mailbox when `reply_domain` has an MX record. The records
depend on the provider: the known ones are recognised by their relay or IMAP host.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings


@dataclass(frozen=True)
class Provider:
    """What a mail provider asks its customers to publish."""

    name: str
    spf: str  # the SPF mechanism naming the provider's servers
    dkim: str  # where its DKIM key comes from
    mx: str  # the MX of a domain it receives mail for


GOOGLE = Provider("Google Workspace", "include:_spf.google.com",
                  "Admin console > Apps > Gmail > Authenticate email: TXT google._domainkey", "smtp.google.com")
MICROSOFT = Provider("Microsoft 365", "include:spf.protection.outlook.com",
                     "Defender portal > Email authentication > DKIM: CNAME selector1._domainkey and selector2._domainkey",
                     "<domain>.mail.protection.outlook.com")
FASTMAIL = Provider("Fastmail", "include:spf.messagingengine.com",
                    "Fastmail > Settings > Domains: CNAME fm1._domainkey, fm2._domainkey, fm3._domainkey",
                    "in1-smtp.messagingengine.com, in2-smtp.messagingengine.com")
OVH = Provider("OVHcloud", "include:mx.ovh.com", "OVHcloud control panel > Emails > DKIM",
               "mx1.mail.ovh.net, mx2.mail.ovh.net, mx3.mail.ovh.net")
SENDING_ONLY = "(sending only: receive the replies elsewhere)"
PROVIDERS = {
    "smtp.gmail.com": GOOGLE, "imap.gmail.com": GOOGLE,
    "smtp.office365.com": MICROSOFT, "outlook.office365.com": MICROSOFT,
    "smtp.fastmail.com": FASTMAIL, "imap.fastmail.com": FASTMAIL,
    "ssl0.ovh.net": OVH,
    "smtp.tem.scaleway.com": Provider("Scaleway TEM", "include:_spf.tem.scaleway.com",
                                      "Scaleway console > Transactional Email > your domain", SENDING_ONLY),
    "smtp-relay.brevo.com": Provider("Brevo", "include:spf.brevo.com", "Brevo > Senders & domains", SENDING_ONLY),
    "smtp.mailgun.org": Provider("Mailgun", "include:mailgun.org", "Mailgun > Domains > DNS records",
                                 "mxa.mailgun.org, mxb.mailgun.org"),
    "smtp.sendgrid.net": Provider("SendGrid", "include:sendgrid.net", "SendGrid > Sender authentication", SENDING_ONLY),
    "mail.infomaniak.com": Provider("Infomaniak", "include:spf.infomaniak.ch", "Infomaniak Manager > Mail > DKIM",
                                    "mta-gw.infomaniak.ch"),
}


def provider_of(host: str) -> Provider | None:
    """The provider serving `host` (Amazon SES by its regional host names)."""
    host = host.lower().rstrip(".")
    if host.startswith("email-smtp.") and host.endswith(".amazonaws.com"):
        return Provider("Amazon SES", "include:amazonses.com", "SES console > Verified identities > Easy DKIM "
                        "(three CNAME records)", SENDING_ONLY)
    return PROVIDERS.get(host)


def domain_of(address: str) -> str:
    """The domain of an email address ('' if none)."""
    return address.rpartition("@")[2].lower() if "@" in address else ""


def dns_hints(settings: Settings) -> list[str]:
    """The records to set, one line each, for the sending domain and the reply domain."""
    mail = settings.mail
    sender = domain_of(mail.from_addr)
    out = []
    relay = provider_of(mail.relay.host) if mail.relay else None
    if sender:
        if relay:
            spf = f"v=spf1 {relay.spf} ~all"
        elif mail.relay:
            spf = f"v=spf1 a:{mail.relay.host} ~all"
        else:
            spf = "v=spf1 <the servers sending for you> ~all"
        out.append(f"SPF   {sender} TXT \"{spf}\"  (one SPF record per domain: merge with an existing one)")
        out.append(f"DKIM  {sender}: publish the key your relay signs with"
                   + (f" ({relay.name}: {relay.dkim})" if relay else " (<selector>._domainkey." + sender + " TXT)"))
        out.append(f"DMARC _dmarc.{sender} TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{sender}\"  "
                   "(then p=quarantine once reports show only your own mail)")
    if mail.reply_domain:
        inbound = provider_of(mail.imap.host) if mail.imap else None
        mx = inbound.mx.replace("<domain>", mail.reply_domain.replace(".", "-")) if inbound else "<your mail server>"
        out.append(f"MX    {mail.reply_domain} MX {mx}  (where reply+…@ and note+…@ addresses are delivered)")
    return out
