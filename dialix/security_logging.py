"""Log filters of the doors (issue 16), apart from dialix.security because logging is configured before the apps
load (this module imports nothing of Django's)."""

import logging
import re

_SECRET_IN_PATH = re.compile(r"(pbx/webhook/)[^/\s\"'?]+")


def redact_secrets(text: str) -> str:
    return _SECRET_IN_PATH.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """On every handler: a PBX push secret in a URL (Django's 'Not Found: /api/v1/pbx/webhook/<secret>/', the
    development server's access lines, a request repr in `extra`) is replaced before the line is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "pbx/webhook/" in message:
            record.msg, record.args = redact_secrets(message), ()
        request = record.__dict__.get("request")
        if request is not None and "pbx/webhook/" in str(getattr(request, "path", "")):
            record.request = redact_secrets(repr(request))
        return True
