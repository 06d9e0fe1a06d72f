"""E-mail over SMTP (the organisation's own mail server, STARTTLS or SSL)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from django.utils.translation import pgettext_lazy

from careloop.outreach.transports.base import Outgoing, Receipt, Transport, TransportError


class Smtp(Transport):
    name = "smtp"
    label = pgettext_lazy("provider", "SMTP e-mail")
    channel = "email"
    REQUIRED_SETTINGS = ("host", "sender")

    def send(self, message: Outgoing) -> Receipt:
        mail = EmailMessage()
        mail["From"] = self.settings["sender"]
        mail["To"] = message.to
        mail["Subject"] = message.subject or self.settings.get("subject", "随访通知")
        domain = self.settings["sender"].rpartition("@")[2] or None
        mail["Message-ID"] = make_msgid(idstring=message.key.replace(":", "."), domain=domain)
        mail.set_content(f"{message.text}\n{message.link}" if message.link else message.text)
        port = int(self.settings.get("port") or 25)
        security = self.settings.get("security", "starttls" if port == 587 else "none")
        try:
            smtp_class = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
            with smtp_class(self.settings["host"], port, timeout=10) as server:
                if security == "starttls":
                    server.starttls()
                if self.settings.get("username"):
                    server.login(self.settings["username"], self.secrets.get("password", ""))
                server.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            raise TransportError(
                "the mail server refused the address",
                permanent=all(code >= 500 for code in codes),  # 4xx: greylisting, try later
                code=str(codes[0]) if codes else "",
            ) from error
        except smtplib.SMTPAuthenticationError as error:
            raise TransportError("the mail server refused the login", permanent=True) from error
        except smtplib.SMTPResponseException as error:
            raise TransportError(
                f"the mail server answered {error.smtp_code}",
                permanent=500 <= error.smtp_code < 600,
                code=str(error.smtp_code),
            ) from error
        except (TimeoutError, OSError, smtplib.SMTPException) as error:
            raise TransportError(
                f"cannot reach the mail server: {type(error).__name__}", permanent=False
            ) from error
        return Receipt(provider_id=str(mail["Message-ID"]))
