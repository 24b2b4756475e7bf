from django.core.management.base import BaseCommand

from integrations.models import PbxAccount


class Command(BaseCommand):
    help = "Re-encrypts stored credentials with the newest DIALIX_FIELD_ENCRYPTION_KEYS key (run after adding a key)."

    def handle(self, *args, **options) -> None:
        count = 0
        for account in PbxAccount.objects.all().iterator():
            # Saving decrypts with any configured key and encrypts again with the first (newest) one.
            account.save(update_fields=["api_key", "session_key_id", "session_key"])
            count += 1
        self.stdout.write(f"{count} PBX account(s) re-encrypted with the newest key.")
