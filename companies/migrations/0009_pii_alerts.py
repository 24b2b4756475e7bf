# PII redaction choices of a company (issue 16, item 4).
from django.db import migrations, models

import companies.models


class Migration(migrations.Migration):
    dependencies = [("companies", "0008_retention_usage")]

    operations = [
        migrations.AddField(
            model_name="company",
            name="pii_redacted_roles",
            field=models.JSONField(
                blank=True,
                default=companies.models.default_pii_redacted_roles,
                help_text="Roles that see card, phone, passport, PINFL numbers and e-mails as [CARD], [PHONE]… "
                "(any of owner, supervisor, analyst, integrator).",
                validators=[companies.models.validate_pii_roles],
                verbose_name="roles that see redacted text",
            ),
        ),
        migrations.AddField(
            model_name="company",
            name="pii_send_original_to_llm",
            field=models.BooleanField(
                default=False,
                help_text="Off: card, phone, passport, PINFL numbers and e-mails are replaced by labels before the "
                "transcript goes to a cloud LLM. Turn on only for an LLM on your own premises.",
                verbose_name="send original text to the LLM",
            ),
        ),
    ]
