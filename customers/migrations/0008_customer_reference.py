from django.db import migrations, models


class Migration(migrations.Migration):
    """The tablet's opaque customer reference, step 1 of 3: the column, empty (a default here
    would give every existing row the same value)."""

    dependencies = [
        ("customers", "0007_notification_kind_receipt"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="reference",
            field=models.CharField(editable=False, max_length=32, null=True),
        ),
    ]
