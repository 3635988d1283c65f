"""The ledger counts in hundredths of a credit: every amount and balance × 100, exactly.

Before this migration a credit was the smallest unit; after it, one
hundredth is (500 characters at the default rate). Multiplying every
``amount``, ``balance_after`` and balance by 100 keeps each running sum equal to
its balance, so ``manage.py audit_credits`` reports the same (zero) drift
before and after. The append-only trigger (0002) refuses every UPDATE of an
entry, so it is disabled for this one statement, inside this migration's
transaction, and enabled again before it commits: nothing else can write the
ledger meanwhile (ALTER TABLE holds the table's exclusive lock).

Going back divides by 100, and refuses when any amount is not a whole number
of credits (a conversion charged by the hundredth cannot be expressed in whole
credits without changing what someone paid).
"""

from django.db import migrations, models

ENTRY_TABLE = "credits_creditentry"
ACCOUNT_TABLE = "credits_creditaccount"
TRIGGER = "credits_entry_append_only"


def _scale(schema_editor, *, multiply: bool) -> None:
    postgresql = schema_editor.connection.vendor == "postgresql"
    if not multiply:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT count(*) FROM {ENTRY_TABLE} WHERE amount % 100 <> 0 OR balance_after % 100 <> 0)"
                f" + (SELECT count(*) FROM {ACCOUNT_TABLE} WHERE balance % 100 <> 0)"
            )
            (fractional,) = cursor.fetchone()
        if fractional:
            raise RuntimeError(
                f"{fractional} ledger rows hold fractions of a credit; they cannot go back to whole credits."
            )
    operator = "*" if multiply else "/"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE {ENTRY_TABLE} DISABLE TRIGGER {TRIGGER}")
    schema_editor.execute(
        f"UPDATE {ENTRY_TABLE} SET amount = amount {operator} 100, balance_after = balance_after {operator} 100"
    )
    schema_editor.execute(f"UPDATE {ACCOUNT_TABLE} SET balance = balance {operator} 100")
    if postgresql:
        schema_editor.execute(f"ALTER TABLE {ENTRY_TABLE} ENABLE TRIGGER {TRIGGER}")


def forwards(apps, schema_editor):
    _scale(schema_editor, multiply=True)


def backwards(apps, schema_editor):
    _scale(schema_editor, multiply=False)


class Migration(migrations.Migration):
    dependencies = [("credits", "0002_entry_append_only_trigger")]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
        migrations.AlterField(
            model_name="creditaccount",
            name="balance",
            field=models.IntegerField(default=0, help_text="In hundredths of a credit."),
        ),
        migrations.AlterField(
            model_name="creditentry",
            name="amount",
            field=models.IntegerField(help_text="In hundredths of a credit; a charge is negative."),
        ),
        migrations.AlterField(
            model_name="creditentry",
            name="balance_after",
            field=models.IntegerField(help_text="In hundredths of a credit."),
        ),
    ]
