#!/usr/bin/env bash
# Installs checkov (pinned) into its own project-local virtualenv: its dependencies stay apart from the emulator's.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
VENV=".venv-checkov"
STAMP="$VENV/.checkov-$CHECKOV_VERSION"

[ -f "$STAMP" ] && exit 0
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
touch "$STAMP"
echo "checks: checkov $CHECKOV_VERSION installed in $VENV"
