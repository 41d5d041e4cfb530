import secrets

from django.db import migrations

BATCH = 500


def new_reference():
    # A frozen copy of customers.models.new_customer_reference as it was when this ran.
    return secrets.token_urlsafe(16)


def fill_references(apps, schema_editor):
    """Step 2 of 3: one random reference per existing customer, written in batches."""
    Customer = apps.get_model("customers", "Customer")
    pending = Customer.objects.filter(reference__isnull=True).only("pk").order_by("pk")
    batch = []
    for customer in pending.iterator(chunk_size=BATCH):
        customer.reference = new_reference()
        batch.append(customer)
        if len(batch) == BATCH:
            Customer.objects.bulk_update(batch, ["reference"])
            batch = []
    if batch:
        Customer.objects.bulk_update(batch, ["reference"])


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0008_customer_reference"),
    ]

    operations = [
        migrations.RunPython(fill_references, migrations.RunPython.noop),
    ]
