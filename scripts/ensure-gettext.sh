#!/usr/bin/env bash
# Makes sure GNU gettext is installed: tests/test_translations.py runs `manage.py makemessages` (xgettext) to check
# that every string marked for translation is in locale/uz and locale/ru. Django reads the committed .mo files at run
# time, so the running product needs no gettext. Idempotent.
set -euo pipefail

if command -v xgettext >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1; then
  echo "ensure-gettext: gettext is installed"
  exit 0
fi

echo "ensure-gettext: installing Debian's gettext"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-gettext: xgettext is missing and this user cannot install packages;" \
      "run 'apt-get install -y gettext' as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y gettext
echo "ensure-gettext: gettext is installed"
