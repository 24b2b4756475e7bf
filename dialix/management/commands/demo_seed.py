from django.core.management.base import BaseCommand

from dialix.demo import demo_seed


class Command(BaseCommand):
    help = "Loads the demo company, its operators and one login per role (idempotent), and prints the logins."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--pbx-url", default="", help="Base URL of the fake PBX the demo company syncs from.")
        parser.add_argument("--crm-url", default="", help="Webhook URL of the fake Bitrix24 the demo company links to.")

    def handle(self, *args, **options) -> None:
        result = demo_seed(pbx_base_url=options["pbx_url"] or None, crm_webhook_url=options["crm_url"] or None)
        self.stdout.write(self.style.SUCCESS(f"Demo company: {result.company.name}"))
        for username, password, role in result.logins:
            self.stdout.write(f"  {role:<11} login: {username:<11} password: {password}")
        self.stdout.write(f"  API token (integrator): {result.api_token}")
        if options["pbx_url"]:
            self.stdout.write(f"  PBX: syncs every minute from the fake OnlinePBX at {options['pbx_url']}")
        if options["crm_url"]:
            self.stdout.write("  CRM: calls linked to the fake Bitrix24; deals polled every minute")
