"""Chapters carry the chapter they belong to and their section number, so a picker can show a
divided chapter's sections under it. Rows stored before this were each a whole chapter."""

from django.db import migrations, models
from django.db.models import F


def each_row_its_own_chapter(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("audiobooks", "Chapter").objects.update(group=F("index"))


class Migration(migrations.Migration):
    dependencies = [
        ("audiobooks", "0011_part_final_statuses"),
    ]

    operations = [
        migrations.AddField(
            model_name="chapter",
            name="group",
            field=models.PositiveIntegerField(
                default=0, help_text="The chapter this row belongs to, counted from 0 in reading order."
            ),
        ),
        migrations.AddField(
            model_name="chapter",
            name="section",
            field=models.PositiveIntegerField(
                default=0, help_text="0 for a whole chapter; 1, 2, … for the sections of a divided one."
            ),
        ),
        migrations.AddField(
            model_name="chapter",
            name="group_title",
            field=models.CharField(
                blank=True,
                max_length=500,
                help_text="The divided chapter's title (the book's, for a book without any).",
            ),
        ),
        migrations.RunPython(each_row_its_own_chapter, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="chapter",
            constraint=models.UniqueConstraint(
                fields=("book", "group", "section"), name="audiobooks_chapter_unique_section"
            ),
        ),
    ]
