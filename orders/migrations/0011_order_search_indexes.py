"""Indexes for the admin's order search at a million orders: pg_trgm GIN indexes on the
expressions Django's ``icontains`` compares (``UPPER(col::text) LIKE UPPER('%term%')``), and a
btree on the phone number. PostgreSQL only: on SQLite (the demo) these operations do nothing.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS order_email_trgm ON orders_order "
    "USING gin ((UPPER(contact_email::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS order_name_trgm ON orders_order "
    "USING gin ((UPPER(contact_name::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS order_phone_idx ON orders_order (contact_phone)",
]
# The extension stays: other objects may use it.
BACKWARD = [
    "DROP INDEX IF EXISTS order_phone_idx",
    "DROP INDEX IF EXISTS order_name_trgm",
    "DROP INDEX IF EXISTS order_email_trgm",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_queue_version_index")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
