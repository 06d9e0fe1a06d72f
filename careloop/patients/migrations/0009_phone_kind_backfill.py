"""The phones stored before landlines were taken are mobiles (each was checked as one): their
``phone_kind`` marked so, as their next save would.

A city's patient table holds millions of rows: they are marked a batch at a time, each batch
its own short transaction (the migration is not atomic), so the table goes on taking writes
meanwhile, and a run stopped half-way (a machine restarted during the upgrade) goes on from
where it was when ``migrate`` runs again."""

from django.db import migrations, transaction

BATCH = 5000  # patients marked per transaction


def mark_mobiles(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    last = 0
    while True:
        ids = list(
            Patient.objects.filter(pk__gt=last, phone_hash__isnull=False, phone_kind="")
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return
        with transaction.atomic():
            Patient.objects.filter(pk__in=ids, phone_kind="").update(phone_kind="mobile")
        last = ids[-1]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("patients", "0008_phone_kind_landlines"),
    ]

    operations = [
        migrations.RunPython(mark_mobiles, migrations.RunPython.noop, elidable=True),
    ]
