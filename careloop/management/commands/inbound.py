import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from careloop.audit.services import record
from careloop.ids import row_id
from careloop.interop.hl7.message import shown_text
from careloop.interop.models import InboundMessage
from careloop.interop.processing import reprocess


def message_id(text: str) -> int:
    """A message id as typed; a number too long to be a row's is refused here (SQLite
    refused it in the query, a traceback)."""
    pk = row_id(text)
    if pk is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a message id")
    return pk


class Command(BaseCommand):
    help = "Inbound messages: list [--status S] | show ID | reprocess ID... | reprocess --failed"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="newest first, one JSON object a line")
        listing.add_argument("--status", choices=InboundMessage.Status.values)
        listing.add_argument("--limit", type=int, default=50)
        show = sub.add_parser("show", help="one message with its raw text")
        show.add_argument("id", type=message_id)
        again = sub.add_parser("reprocess", help="import messages again")
        again.add_argument("ids", type=message_id, nargs="*")
        again.add_argument("--failed", action="store_true", help="every failed message")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "list":
            messages = InboundMessage.objects.defer("raw").order_by("-id")
            if options["status"]:
                messages = messages.filter(status=options["status"])
            for message in messages[: options["limit"]]:
                self.stdout.write(json.dumps(summary(message), ensure_ascii=False))
        elif action == "show":
            found = InboundMessage.objects.filter(pk=options["id"]).first()
            if found is None:
                raise CommandError(f"no inbound message {options['id']}")
            message = found
            record(
                None,
                "view",
                "inbound_message",
                message.pk,
                patient_id=message.patient_id,
                actor_label="cli",
                summary="raw message shown",
            )
            self.stdout.write(json.dumps(summary(message), ensure_ascii=False))
            default = message.source.default_encoding if message.source else "utf-8"
            text = shown_text(bytes(message.raw), message.encoding, default)
            self.stdout.write(text.replace("\r", "\n"))
        else:
            ids = list(options["ids"])
            if options["failed"]:
                ids += list(
                    InboundMessage.objects.filter(status=InboundMessage.Status.FAILED).values_list(
                        "pk", flat=True
                    )
                )
            if not ids:
                if options["failed"]:  # nothing failed: nothing to do, not an error
                    self.stdout.write("no failed messages")
                    return
                raise CommandError("give message ids, or --failed")
            stored = list(InboundMessage.objects.filter(pk__in=ids).order_by("id"))
            missing = sorted(set(ids) - {message.pk for message in stored})
            for pk in missing:
                self.stdout.write(f"{pk}: no such message")
            failures = 0
            for message in stored:
                try:
                    result = reprocess(message)
                except Exception as exc:
                    failures += 1
                    self.stdout.write(f"{message.pk}: still cannot be imported: {exc}")
                    continue
                message.refresh_from_db()
                failures += result.failed
                if result.put_back:
                    note = " (waiting: another import has its patient; imported shortly)"
                else:
                    note = f" ({message.error})" if message.error else ""
                self.stdout.write(f"{message.pk}: {message.status}{note}")
            problems = [f"{len(missing)} message(s) not found"] if missing else []
            if failures:
                problems.append(f"{failures} message(s) failed again")
            if problems:
                raise CommandError(", ".join(problems))


def summary(message):
    return {
        "id": message.pk,
        "received_at": message.received_at.isoformat(),
        "type": message.message_type,
        "control_id": message.control_id,
        "facility": message.sending_facility,
        "status": message.status,
        "ack": message.ack_code,
        "error": message.error,
    }
