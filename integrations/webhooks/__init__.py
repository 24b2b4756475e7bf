"""Outgoing webhooks (issue 13): a company's endpoints, the outbox of events written with the change that causes them,
and their delivery, signed the Standard Webhooks way (https://www.standardwebhooks.com)."""
