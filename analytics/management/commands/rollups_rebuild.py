"""``manage.py rollups_rebuild [--company ID ...]``: recompute every dashboard rollup from the calls (issue 15)."""

import time

from django.core.management.base import BaseCommand

from analytics.services import rollups_rebuild
from companies.models import Company


class Command(BaseCommand):
    help = "Recompute the dashboard's daily rollups of every company (or of --company) from their calls."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--company", type=int, action="append", help="A company id (repeatable); default: all.")

    def handle(self, *args, company=None, **options) -> None:
        companies = Company.objects.order_by("pk")
        if company:
            companies = companies.filter(pk__in=company)
        for row in companies:
            began = time.monotonic()
            written = rollups_rebuild(company_id=row.pk)
            self.stdout.write(f"company {row.pk}: {written} daily rows in {time.monotonic() - began:.1f} s")
