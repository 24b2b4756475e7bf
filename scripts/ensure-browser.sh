#!/usr/bin/env bash
# Makes sure the browser the browser tests drive (tests/browser/) is installed: Debian's Chromium at
# /usr/bin/chromium. Playwright's own browser download is not reachable from the project's machines, so
# `playwright install` is never run; Playwright launches this binary (executable_path). Idempotent.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  echo "ensure-browser: $CHROMIUM is installed"
  exit 0
fi

echo "ensure-browser: installing Debian's chromium"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-browser: $CHROMIUM is missing and this user cannot install packages;" \
      "run 'apt-get install -y chromium' as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-browser: the chromium package did not provide $CHROMIUM" >&2
  exit 1
fi
echo "ensure-browser: $CHROMIUM is installed"
