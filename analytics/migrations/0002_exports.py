# Placeholder in the migration chain: filled by its owner, removed if still empty at the end.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_rollups")]

    operations = []
