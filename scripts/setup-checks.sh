#!/usr/bin/env bash
# Installs the template's checkers (pinned) into their own project-local virtualenv, apart from the emulator's:
# checkov (CloudFormation misconfigurations) and parliament (IAM policies: every action's resources and condition
# keys, from AWS's own definitions).
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
PARLIAMENT_VERSION="1.6.4"
VENV=".venv-checkov"
STAMP="$VENV/.checks-checkov-$CHECKOV_VERSION-parliament-$PARLIAMENT_VERSION"

[ -f "$STAMP" ] && exit 0
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  "checkov==$CHECKOV_VERSION" "parliament==$PARLIAMENT_VERSION"
touch "$STAMP"
echo "checks: checkov $CHECKOV_VERSION and parliament $PARLIAMENT_VERSION installed in $VENV"
