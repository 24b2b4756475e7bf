# Placeholder in the migration chain: filled by its owner, removed if still empty at the end.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("integrations", "0009_crm_connection")]

    operations = []
