#!/usr/bin/env bash
# Installs the local AWS emulator (moto's standalone server, pinned) into the project's own .venv, with waitress
# (pinned), the HTTP server of the benchmarks' emulator (local/moto_server_large_fleets.py).
# Idempotent: a .venv that already holds the pinned versions is left as it is, silently.
# An install says so first and shows pip's progress: on a fresh machine it takes about a minute and a half.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
WAITRESS_VERSION="3.0.2"
VENV=".venv"
STAMP="$VENV/.moto-$MOTO_VERSION-waitress-$WAITRESS_VERSION"

if [ -f "$STAMP" ]; then
  exit 0
fi
echo "emulator: installing moto $MOTO_VERSION and waitress $WAITRESS_VERSION into $VENV (about a minute and a half, once)"
python3 -m venv "$VENV"
# No --quiet: a line per package and a progress bar per download (about 170 lines in all), so a first run is
# visibly busy, in CI too.
"$VENV/bin/pip" install --disable-pip-version-check "moto[server,cloudformation]==$MOTO_VERSION" \
  "waitress==$WAITRESS_VERSION"
touch "$STAMP"
echo "emulator: moto $MOTO_VERSION and waitress $WAITRESS_VERSION installed in $VENV"
