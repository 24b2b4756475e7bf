"""CRM connectors (issue 14): Bitrix24 today, amoCRM later, each behind integrations.crm.base.CrmClient."""
