import customers.models
from django.db import migrations, models


class Migration(migrations.Migration):
    """Step 3 of 3: every customer has a reference; it is required and unique from now on."""

    dependencies = [
        ("customers", "0009_fill_customer_reference"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="reference",
            field=models.CharField(
                default=customers.models.new_customer_reference,
                editable=False,
                max_length=32,
                unique=True,
            ),
        ),
    ]
