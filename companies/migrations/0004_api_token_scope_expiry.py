"""API token scopes and expiry (issue 13). Tokens made before scopes existed could do everything: they become write
tokens, so no integration breaks; a token made from now on is read-only unless its owner chooses write."""

from django.db import migrations, models

SCOPE_CHOICES = [("read", "Read: GET only"), ("write", "Write: read, create, change and run actions")]
SCOPE_HELP = "Read tokens can only GET; actions and changes need a write token."


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0003_user_preference"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(
                blank=True, help_text="The token stops working at this time; empty: until revoked.", null=True
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(choices=SCOPE_CHOICES, default="write", help_text=SCOPE_HELP, max_length=5),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(choices=SCOPE_CHOICES, default="read", help_text=SCOPE_HELP, max_length=5),
        ),
    ]
