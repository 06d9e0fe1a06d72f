from django.db import migrations, models

from careloop.migration_ops import AddIndexOnline


class Migration(migrations.Migration):
    # A large result table goes on taking writes while PostgreSQL builds the index.
    atomic = False

    dependencies = [
        ("clinical", "0011_observation_panel"),
    ]

    operations = [
        AddIndexOnline(
            model_name="observation",
            index=models.Index(
                condition=models.Q(("panel__isnull", False)), fields=["panel"], name="obs_panel"
            ),
        ),
    ]
