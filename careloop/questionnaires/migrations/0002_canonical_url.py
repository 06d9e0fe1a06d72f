"""An imported FHIR Questionnaire keeps its canonical URL and the versions their author's
version (both unique where given)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("questionnaires", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="questionnaire",
            name="url",
            field=models.CharField(
                blank=True,
                help_text="The FHIR canonical URL it was imported with; empty: one of ours.",
                max_length=255,
                verbose_name="canonical URL",
            ),
        ),
        migrations.AddField(
            model_name="questionnaireversion",
            name="label",
            field=models.CharField(blank=True, max_length=64, verbose_name="FHIR version"),
        ),
        migrations.AddConstraint(
            model_name="questionnaire",
            constraint=models.UniqueConstraint(
                condition=models.Q(("url", ""), _negated=True),
                fields=("url",),
                name="questionnaire_url_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="questionnaireversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("label", ""), _negated=True),
                fields=("questionnaire", "label"),
                name="questionnaire_label_once",
            ),
        ),
    ]
