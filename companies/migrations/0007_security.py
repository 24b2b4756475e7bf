# Issue 16 (doors): the company's two-factor requirement. Login attempts (django-axes) and TOTP devices (django-otp)
# come with those apps' own migrations.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("companies", "0006_translated_timestamps"), ("axes", "0010_accessattemptexpiration")]

    operations = [
        migrations.AddField(
            model_name="company",
            name="require_two_factor",
            field=models.BooleanField(
                default=False,
                help_text="Owners and supervisors must enter a code from an authenticator app after their password.",
                verbose_name="require two-factor login",
            ),
        ),
        migrations.CreateModel(
            name="LoginLockout",
            fields=[],
            options={
                "verbose_name": "login lockout",
                "verbose_name_plural": "login lockouts",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("axes.accessattempt",),
        ),
    ]
