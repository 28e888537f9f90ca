#!/usr/bin/env bash
# Installs the local AWS emulator (moto's standalone server, pinned) into the project's own .venv.
# Idempotent: a .venv that already holds the pinned version is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
VENV=".venv"
STAMP="$VENV/.moto-$MOTO_VERSION"

if [ -f "$STAMP" ]; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server,cloudformation]==$MOTO_VERSION"
touch "$STAMP"
echo "emulator: moto $MOTO_VERSION installed in $VENV"
