#!/usr/bin/env bash
# Build (idempotently) the separate venv that holds datatrove, the reference implementation
# for the quality signals. It lives apart from the project venv because datatrove 0.10.1 pins
# trafilatura<1.12 and pulls fasttext-numpy2-wheel (see docs/architecture.md, "Quality signals").
#
# Usage: bench/datatrove_env.sh            -> prints the venv's python path on success
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${DATATROVE_VENV:-$here/.venv-datatrove}"
py="$venv/bin/python"
marker="$venv/.govcat-ready"

if [[ -f "$marker" ]] && "$py" -c "import datatrove, nltk, spacy" 2>/dev/null; then
    echo "$py"
    exit 0
fi

python3 -m venv "$venv"
"$py" -m pip install --quiet --upgrade pip >&2
# orjson, spacy, aiohttp are imported by datatrove's filters/readers but not declared by
# its [processing] extra.
"$py" -m pip install --quiet 'datatrove[processing]==0.10.1' orjson spacy aiohttp pyarrow >&2
"$py" -c "import datatrove, nltk, spacy" >&2
touch "$marker"
echo "$py"
