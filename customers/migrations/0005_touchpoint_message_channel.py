from django.db import migrations, models
from django.db.models.fields.json import KeyTextTransform

MESSAGE_KINDS = [
    "notification_sent",
    "notification_deferred",
    "notification_suppressed",
    "notification_failed",
]


def message_channels(apps, schema_editor):
    """Messages recorded so far on the channel of what caused them move to the channel they
    went out on (kept in their payload); those that never had one stay."""
    Touchpoint = apps.get_model("customers", "Touchpoint")
    Touchpoint.objects.filter(
        kind__in=MESSAGE_KINDS, payload__channel__in=["email", "sms", "whatsapp"]
    ).update(channel=KeyTextTransform("channel", "payload"))


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_notification_language"),
    ]

    operations = [
        migrations.AlterField(
            model_name="touchpoint",
            name="channel",
            field=models.CharField(
                choices=[
                    ("web", "Web"),
                    ("mobile", "Mobile app"),
                    ("store", "Store"),
                    ("email", "Email"),
                    ("sms", "SMS"),
                    ("whatsapp", "WhatsApp"),
                ],
                max_length=8,
            ),
        ),
        migrations.RunPython(message_channels, migrations.RunPython.noop),
    ]
