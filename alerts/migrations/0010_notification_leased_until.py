from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0009_channel_last_test"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="leased_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
