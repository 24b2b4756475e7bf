"""Logging at the production level: no logging call may pass a reserved LogRecord attribute in ``extra`` (Python
raises KeyError when the record is made, i.e. only at a level that is enabled), and the suite logs at INFO through
the production JSON formatter, so a record that cannot be formatted fails the test that makes it."""

import ast
import json
import logging
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".venv", "var", "migrations", "node_modules", "__pycache__", ".git", "staticfiles"}
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log"}
# What makeRecord refuses in `extra`: every attribute a LogRecord has, plus the two the formatter sets later.
# taskName is added by Python 3.12; it is listed so the code keeps working on the next Python too.
RESERVED = set(logging.LogRecord(None, 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def _project_files() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts[:-1])]


def _extra_keys(node: ast.expr) -> list[str]:
    """The literal string keys of an `extra=` value written as a dict display or a dict(...) call."""
    if isinstance(node, ast.Dict):
        return [key.value for key in node.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return [keyword.arg for keyword in node.keywords if keyword.arg is not None]
    return []


def reserved_extra_keys(source: str, filename: str = "<source>") -> list[str]:
    """'file:line: key' for every logging call whose literal `extra` has a reserved LogRecord attribute name."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in LOG_METHODS:
            continue
        for keyword in node.keywords:
            if keyword.arg == "extra":
                found += [f"{filename}:{node.lineno}: {key}" for key in _extra_keys(keyword.value) if key in RESERVED]
    return found


def test_no_logging_call_passes_a_reserved_logrecord_name_in_extra():
    files = _project_files()
    assert len(files) > 50  # the scan really walks the project
    problems = []
    for path in files:
        problems += reserved_extra_keys(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert problems == [], "reserved LogRecord attribute names in logging extra (rename them):\n" + "\n".join(problems)


def test_the_scan_catches_every_way_of_writing_a_reserved_key():
    source = (
        "logger.info('a', extra={'company_id': 1, 'created': True})\n"
        "log.warning('b', extra=dict(module='x'))\n"
        "logging.getLogger(__name__).error('c', extra={'message': 'x'})\n"
        "logger.info('fine', extra={'company_id': 1, 'is_new': True})\n"
    )
    assert reserved_extra_keys(source) == ["<source>:1: created", "<source>:2: module", "<source>:3: message"]


def test_suite_logs_at_info_through_the_production_json_formatter():
    assert settings.LOGGING["root"]["level"] == "INFO"
    handler_names = settings.LOGGING["root"]["handlers"]
    formatters = {settings.LOGGING["handlers"][name].get("formatter") for name in handler_names}
    assert formatters == {"json"}
    assert logging.getLogger().getEffectiveLevel() == logging.INFO


def test_an_info_record_with_context_formats_as_one_json_line():
    from pythonjsonlogger.json import JsonFormatter

    formatters = [h.formatter for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    assert formatters, "the root logger has no handler with the production JSON formatter"
    record = logging.getLogger("calls.services.upload").makeRecord(
        "calls.services.upload",
        logging.INFO,
        __file__,
        1,
        "call_uploaded",
        (),
        None,
        extra={"company_id": 7, "call_id": 9, "is_new": True},
    )
    line = json.loads(formatters[0].format(record))
    assert (line["message"], line["levelname"], line["company_id"], line["is_new"]) == (
        "call_uploaded",
        "INFO",
        7,
        True,
    )
