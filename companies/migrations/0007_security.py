# Placeholder in the migration chain: filled by its owner, removed if still empty at the end.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("companies", "0006_translated_timestamps")]

    operations = []
