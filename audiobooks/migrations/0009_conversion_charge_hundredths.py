"""A conversion's charge is kept in hundredths of a credit, as the ledger is (credits 0003).

``credits_charged`` (whole credits) becomes ``charge_hundredths``, each value × 100
exactly. Going back divides by 100 and refuses a charge that is not whole credits.
"""

from django.db import migrations, models
from django.db.models import Q


def forwards(apps, schema_editor):
    schema_editor.execute("UPDATE audiobooks_conversion SET charge_hundredths = charge_hundredths * 100")


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audiobooks_conversion WHERE charge_hundredths % 100 <> 0")
        (fractional,) = cursor.fetchone()
    if fractional:
        raise RuntimeError(f"{fractional} conversions were charged fractions of a credit; they cannot go back.")
    schema_editor.execute("UPDATE audiobooks_conversion SET charge_hundredths = charge_hundredths / 100")


class Migration(migrations.Migration):
    dependencies = [
        ("audiobooks", "0008_part_from_cache"),
        ("credits", "0003_amounts_in_hundredths"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="conversion", name="audiobooks_conversion_operator_jobs_are_free"),
        migrations.RenameField(model_name="conversion", old_name="credits_charged", new_name="charge_hundredths"),
        migrations.AlterField(
            model_name="conversion",
            name="charge_hundredths",
            field=models.PositiveIntegerField(help_text="What was charged, in hundredths of a credit."),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
        migrations.AddConstraint(
            model_name="conversion",
            constraint=models.CheckConstraint(
                condition=~Q(operator_job=True) | Q(charge_hundredths=0),
                name="audiobooks_conversion_operator_jobs_are_free",
            ),
        ),
    ]
