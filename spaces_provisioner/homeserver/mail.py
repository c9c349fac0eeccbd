"""E-mail through the homeserver's own SMTP settings (the ``email`` section of homeserver.yaml).

Used for the 6-digit code sent to a young pupil's parent. Sources: Synapse
configuration manual, "email" (``smtp_host``, ``smtp_port``, ``smtp_user``, ``smtp_pass``,
``force_tls``, ``require_transport_security``, ``notif_from``).
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from spaces_provisioner.homeserver.config_file import read_synapse_config


class MailError(RuntimeError):
    """The e-mail could not be sent (no SMTP settings, or the server refused)."""


def smtp_settings(homeserver_config: Path) -> dict | None:
    """The homeserver's ``email`` section, or None when it has no SMTP host."""
    email = (read_synapse_config(homeserver_config) or {}).get("email") or {}
    return email if email.get("smtp_host") else None


def _send(settings: dict, to: str, subject: str, text: str) -> None:
    msg = EmailMessage()
    sender = settings.get("notif_from") or "Parta <noreply@localhost>"
    msg["From"] = sender.replace("%(app)s", "Parta")
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    host, port = settings["smtp_host"], int(settings.get("smtp_port", 25))
    cls = smtplib.SMTP_SSL if settings.get("force_tls") else smtplib.SMTP
    try:
        with cls(host, port, timeout=20) as smtp:
            if settings.get("require_transport_security") and not settings.get("force_tls"):
                smtp.starttls()
            if settings.get("smtp_user"):
                smtp.login(settings["smtp_user"], settings.get("smtp_pass", ""))
            smtp.send_message(msg, from_addr=parseaddr(msg["From"])[1] or None)
    except (OSError, smtplib.SMTPException) as e:
        raise MailError(str(e)) from e


async def send_mail(homeserver_config: Path, to: str, subject: str, text: str) -> None:
    """Send a plain-text e-mail; raises MailError."""
    settings = smtp_settings(homeserver_config)
    if settings is None:
        raise MailError("the homeserver has no SMTP settings (email.smtp_host in homeserver.yaml)")
    await asyncio.to_thread(_send, settings, to, subject, text)
