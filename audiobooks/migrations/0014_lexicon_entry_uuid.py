import uuid

from django.db import migrations, models


def give_each_entry_a_uuid(apps, schema_editor):
    LexiconEntry = apps.get_model("audiobooks", "LexiconEntry")
    for entry in LexiconEntry.objects.filter(uuid__isnull=True).only("pk"):
        entry.uuid = uuid.uuid4()
        entry.save(update_fields=["uuid"])


class Migration(migrations.Migration):
    dependencies = [
        ("audiobooks", "0013_lexicon"),
    ]

    operations = [
        migrations.AddField(
            model_name="lexiconentry",
            name="uuid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_each_entry_a_uuid, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="lexiconentry",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
