"""Make the ledger append-only in PostgreSQL itself, not only in CreditEntry.save/delete.

The trigger refuses every DELETE and every UPDATE, except the one Django makes
when a user is deleted: ``user_id``/``actor_id`` set to NULL (``on_delete=SET_NULL``).
It raises SQLSTATE 23001 (restrict_violation), which Django reports as an
IntegrityError. TRUNCATE is not a row operation and still works, so test
databases can be flushed.

SQLite (the single-user embedded default) gets no trigger: there the model
guards are the protection.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION credits_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'credit entry % cannot be deleted: the ledger is append-only', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - 'user_id' - 'actor_id') IS DISTINCT FROM (to_jsonb(OLD) - 'user_id' - 'actor_id')
       OR (NEW.user_id IS NOT NULL AND NEW.user_id IS DISTINCT FROM OLD.user_id)
       OR (NEW.actor_id IS NOT NULL AND NEW.actor_id IS DISTINCT FROM OLD.actor_id) THEN
        RAISE EXCEPTION 'credit entry % cannot be changed: record a correction as a new entry', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER credits_entry_append_only
    BEFORE UPDATE OR DELETE ON credits_creditentry
    FOR EACH ROW EXECUTE FUNCTION credits_entry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS credits_entry_append_only ON credits_creditentry;
DROP FUNCTION IF EXISTS credits_entry_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
