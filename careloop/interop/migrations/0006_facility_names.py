"""Sending facilities stored before MSH-4 was read in the message's character set: a Chinese
name was kept with its bytes replaced (人民医院 → "������������"). Each such message gets its
name read again from its raw header, and each sending system the name its messages carry
(the most frequent), so its settings (organisation, default encoding) stay its own and a
message sent again after the upgrade is still known as a duplicate."""

from collections import Counter, defaultdict

from django.db import IntegrityError, migrations, transaction

MANGLED = "\ufffd"
BATCH = 500


def _save(model, rows):
    """Rows in one statement; one by one when that meets a message already stored under the
    right name (then the mangled copy keeps its name: it is the duplicate)."""
    try:
        with transaction.atomic():
            model.objects.bulk_update(rows, ["sending_facility"])
    except IntegrityError:
        for row in rows:
            try:
                with transaction.atomic():
                    model.objects.filter(pk=row.pk).update(sending_facility=row.sending_facility)
            except IntegrityError:
                continue


def rename(apps, schema_editor):
    from careloop.interop.ingest import facility_of

    InboundMessage = apps.get_model("interop", "InboundMessage")
    SourceSystem = apps.get_model("interop", "SourceSystem")
    names = defaultdict(Counter)
    rows = []
    mangled = InboundMessage.objects.filter(sending_facility__contains=MANGLED)
    for message in mangled.only("id", "raw", "source_id").order_by("id").iterator(BATCH):
        name = facility_of(bytes(message.raw))[:100]
        if not name or MANGLED in name:
            continue
        message.sending_facility = name
        rows.append(message)
        if message.source_id:
            names[message.source_id][name] += 1
        if len(rows) == BATCH:
            _save(InboundMessage, rows)
            rows = []
    if rows:
        _save(InboundMessage, rows)
    for source in SourceSystem.objects.filter(facility__contains=MANGLED):
        if source.pk not in names:
            continue
        name = names[source.pk].most_common(1)[0][0]
        if not SourceSystem.objects.filter(facility=name).exists():
            source.facility = name
            source.save(update_fields=["facility"])


class Migration(migrations.Migration):
    dependencies = [("interop", "0005_shards_of_waiting_messages")]

    operations = [migrations.RunPython(rename, migrations.RunPython.noop)]
