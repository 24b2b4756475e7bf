from django.core.management.base import BaseCommand

from companies.demo import demo_seed


class Command(BaseCommand):
    help = "Loads the demo company, its operators and one login per role (idempotent), and prints the logins."

    def handle(self, *args, **options) -> None:
        result = demo_seed()
        self.stdout.write(self.style.SUCCESS(f"Demo company: {result.company.name}"))
        for username, password, role in result.logins:
            self.stdout.write(f"  {role:<11} login: {username:<11} password: {password}")
        self.stdout.write(f"  API token (integrator): {result.api_token}")
