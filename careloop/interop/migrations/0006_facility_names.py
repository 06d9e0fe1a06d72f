"""Sending facilities stored before MSH-4 was read in the message's character set: a Chinese
name was kept with its bytes replaced (人民医院 → "������������"). Each such message gets its
name read again from its raw header; where every message of a mangled name reads back to one
name, that name also replaces the mangled one on its sending system (facility and display
name: its settings stay its own) and as the issuer of record numbers registered from those
messages (so the hospital's next message finds the patient instead of enrolling them again);
a message sent again after the upgrade is still known as a duplicate. A mangled name whose
messages read back to several hospitals is left as it is (it cannot be split by itself)."""

from collections import Counter, defaultdict

from django.db import IntegrityError, migrations, transaction

MANGLED = "\ufffd"
BATCH = 500
CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "GB18030": "gb18030",
    "GB 18030-2000": "gb18030",
    "GB18030-2000": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "CHINESE": "gb18030",
}


def facility_of(raw):
    """MSH-4's first component as text (as ``interop.ingest.facility_of`` read it when this
    migration was written: MSH-18's character set, else UTF-8, else GB18030)."""
    raw = raw.lstrip(b"\x0b \t\r\n")
    end = min((i for i in (raw.find(b"\r"), raw.find(b"\n")) if i >= 0), default=2048)
    header = raw[:end]
    if not header.startswith(b"MSH") or len(header) < 8:
        return ""
    parts = header.split(header[3:4])
    if len(parts) < 4:
        return ""
    value = parts[3].split(parts[1][:1] or b"^")[0]
    charset = (
        parts[17].split(b"~")[0].strip().decode("ascii", "replace").upper()
        if len(parts) > 17
        else ""
    )
    for codec in ([CHARSETS[charset]] if charset in CHARSETS else []) + ["utf-8", "gb18030"]:
        try:
            return value.decode(codec)
        except UnicodeDecodeError:
            continue
    return ""


def _in_savepoint(work):
    try:
        with transaction.atomic():
            work()
        return True
    except IntegrityError:
        return False


def _save(model, rows):
    """Rows in one statement; one by one when that meets a message already stored under the
    right name (then the mangled copy keeps its name: it is the duplicate)."""
    if _in_savepoint(lambda: model.objects.bulk_update(rows, ["sending_facility"])):
        return
    for row in rows:
        _in_savepoint(
            lambda row=row: model.objects.filter(pk=row.pk).update(
                sending_facility=row.sending_facility
            )
        )


def rename(apps, schema_editor):
    InboundMessage = apps.get_model("interop", "InboundMessage")
    SourceSystem = apps.get_model("interop", "SourceSystem")
    PatientIdentifier = apps.get_model("patients", "PatientIdentifier")
    read_as = defaultdict(Counter)  # mangled name → the names its messages read back to
    rows = []
    mangled = InboundMessage.objects.filter(sending_facility__contains=MANGLED)
    for message in mangled.only("id", "raw", "sending_facility").order_by("id").iterator(BATCH):
        name = facility_of(bytes(message.raw))[:100]
        if not name or MANGLED in name:
            continue
        read_as[message.sending_facility][name] += 1
        message.sending_facility = name
        rows.append(message)
        if len(rows) == BATCH:
            _save(InboundMessage, rows)
            rows = []
    if rows:
        _save(InboundMessage, rows)
    for old, names in read_as.items():
        if len(names) != 1:
            continue  # several hospitals behind one mangled name
        [new] = names
        source = SourceSystem.objects.filter(facility=old).first()
        if source is not None and not SourceSystem.objects.filter(facility=new).exists():
            if source.name == old:
                source.name = new[: source._meta.get_field("name").max_length]
            source.facility = new
            source.save(update_fields=["facility", "name"])
        _reissue(PatientIdentifier, old[:64], new[:64])


def _reissue(model, old, new):
    """Record numbers issued under the mangled name move to the real one; one that clashes
    with the same number already under the real name keeps the mangled one."""
    issued = model.objects.filter(system=old)
    if _in_savepoint(lambda: issued.update(system=new)):
        return
    for pk in list(issued.values_list("pk", flat=True)):
        _in_savepoint(lambda pk=pk: model.objects.filter(pk=pk).update(system=new))


class Migration(migrations.Migration):
    dependencies = [
        ("interop", "0005_shards_of_waiting_messages"),
        ("patients", "0006_risk_record_fields"),
    ]

    operations = [migrations.RunPython(rename, migrations.RunPython.noop)]
