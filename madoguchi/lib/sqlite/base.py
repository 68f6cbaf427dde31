"""Django's SQLite backend, keeping triggers when a migration rebuilds a table.

Django alters a table on SQLite by building a new one and renaming it into place. Dropping the old table
drops the triggers on it, and SQLite refuses the rename while a trigger on another table names the old one
("error in trigger …: no such table"). The organization guards (lib/integrity.py) are such triggers, so
here every rebuild takes all triggers out first and puts them back after. One that no longer fits the new
table (a column it names was removed) fails the migration, loudly, instead of disappearing.
"""

from django.db.backends.sqlite3 import base, schema


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    def _remake_table(self, model, create_field=None, delete_field=None, alter_fields=None):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL")
            triggers = cursor.fetchall()
        for name, _sql in triggers:
            self.execute(f"DROP TRIGGER {self.quote_name(name)}", None)
        super()._remake_table(
            model, create_field=create_field, delete_field=delete_field, alter_fields=alter_fields
        )
        for _name, sql in triggers:
            self.execute(sql, None)


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
