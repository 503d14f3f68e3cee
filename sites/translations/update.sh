#!/usr/bin/env bash
# Re-extract the portal's UI strings into messages.pot, then update the French and English
# catalogs from it. Translate the new entries in fr/LC_MESSAGES/messages.po afterwards, then
# compile with `make translations`. See docs/translations.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYBABEL="${PYBABEL:-$ROOT/.venv/bin/pybabel}"
cd "$ROOT"

"$PYBABEL" extract -F sites/babel.cfg -k _l -k lazy_gettext \
  -o sites/translations/messages.pot --no-location --sort-output --project ptfops .
"$PYBABEL" update -i sites/translations/messages.pot -d sites/translations --no-fuzzy-matching
