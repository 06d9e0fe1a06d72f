"""Messages waiting when the shards came in (stored with shard 0) get their patient's shard,
so a backlog and the same patients' new messages are imported by the same processor."""

from django.db import migrations


def shard_waiting(apps, schema_editor):
    from careloop.interop.hl7.message import HL7Error, decode, parse
    from careloop.interop.hl7.read import DEFAULT_EXAM_TYPES, exam_types_of, read
    from careloop.interop.ingest import shard_of

    InboundMessage = apps.get_model("interop", "InboundMessage")
    SourceSystem = apps.get_model("interop", "SourceSystem")
    types = {
        source.pk: exam_types_of(source.exam_identifier_types)
        for source in SourceSystem.objects.all()
    }
    waiting = InboundMessage.objects.filter(
        status__in=["received", "processing"], accepted=True, transport="mllp"
    ).order_by("id")
    changed = []
    for message in waiting.iterator(chunk_size=500):
        try:
            text, _ = decode(bytes(message.raw), message.encoding or "utf-8")
            data = read(parse(text), exam_types=types.get(message.source_id, DEFAULT_EXAM_TYPES))
        except (HL7Error, ValueError):
            continue  # the processor will record what is wrong with it; shard 0 is fine
        message.shard = shard_of(data.patient, message.sending_facility)
        changed.append(message)
        if len(changed) == 500:
            InboundMessage.objects.bulk_update(changed, ["shard"])
            changed = []
    InboundMessage.objects.bulk_update(changed, ["shard"])


class Migration(migrations.Migration):
    dependencies = [("interop", "0004_inbound_shard")]

    operations = [migrations.RunPython(shard_waiting, migrations.RunPython.noop)]
