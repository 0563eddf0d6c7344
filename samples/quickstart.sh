#!/usr/bin/env bash
# The main job on the embedded default (SQLite under .govcat-quickstart/): register the sample
# sources, review and approve them, ingest the samples, gate and process them, cut a release,
# verify and sign it, write its reports, and show what the catalog knows.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOVCAT_HOME="${GOVCAT_HOME:-.govcat-quickstart}"
unset GOVCAT_DATABASE_URL
rm -rf "$GOVCAT_HOME"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Register the sample sources from samples/registry.yaml"
govcat source import samples/registry.yaml
step "Review the crawl's terms of service and approve the sources"
govcat source review sample-crawl --verdict conditional \
  --quote "Content may be used for research; commercial reuse requires permission" \
  --reviewer legal@example.org
for s in sample-crawl sample-books sample-code sample-forum; do
  govcat source approve "$s" --reason "quickstart: reviewed sample"
done
step "Sources"
govcat source list
step "Ingest the samples: a crawl with robots.txt, a book, a code folder, a forum dump"
govcat ingest sample-crawl samples/crawl/sample.warc.gz
govcat ingest sample-books samples/books
govcat ingest sample-code samples/code
govcat ingest sample-forum samples/forum/Posts.xml --option site=cooking.stackexchange.com
step "What one ingest run quarantined"
govcat ingest report 4
step "Consent: robots.txt from the crawl, and a newer one that opts out"
govcat consent show news.example.org --agents GPTBot,CCBot,ClaudeBot,'*'
govcat consent add-robots blog.example.net samples/consent/blog-robots-2027.txt \
  --fetched-at 2027-01-15
govcat consent changes --agents GPTBot,CCBot,ClaudeBot,'*'
step "Licences: concluded per document, summarised by licence class"
govcat license report sample-code
govcat license report sample-crawl
step "Gate the samples with the commercial-strict policy pack"
govcat gate commercial-strict
step "Why was a page refused?"
govcat explain https://shop.example.com/fr/marche
step "Process what the research-permissive pack admits: langid, quality, dedup, PII"
govcat run research-permissive
step "Cut a release of the run: redacted shards, opt-outs honoured, a signed manifest"
govcat release cut latest --name sample-corpus --version 1.0.0 \
  --description "The quickstart's sample corpus"
govcat release show sample-corpus
step "Which crawled pages did the quality stage drop, and why? One page's life, stage by stage"
run_id=$(govcat release show sample-corpus --json | python -c 'import json,sys; print(json.load(sys.stdin)["run"])')
govcat docs list --run "$run_id" --stage quality --effect drop --source sample-crawl
govcat explain https://blog.example.net/bridges
step "Verify it from the folder alone, sign it, and check the signature with model_signing too"
release_dir="$GOVCAT_HOME/releases/sample-corpus/1.0.0"
govcat release verify sample-corpus
govcat release keygen --private-key "$GOVCAT_HOME/release-key.pem" \
  --public-key "$GOVCAT_HOME/release-key.pub"
govcat release sign sample-corpus --key "$GOVCAT_HOME/release-key.pem"
govcat release verify sample-corpus --public-key "$GOVCAT_HOME/release-key.pub"
model_signing verify key --public_key "$GOVCAT_HOME/release-key.pub" \
  --signature "$release_dir/release.sig" "$release_dir"
step "Write the release's reports: datasheet, dataset card, Croissant, EU AI Act summary, attribution"
govcat report check sample-corpus --meta samples/release.yaml
govcat report all sample-corpus --meta samples/release.yaml
govcat release verify sample-corpus --public-key "$GOVCAT_HOME/release-key.pub"
step "Prove one document is in the release"
first_doc=$(python -c "import pyarrow.parquet as pq,sys; print(pq.read_table(sys.argv[1]).column('id')[0])" "$release_dir/index.parquet")
govcat release prove "$first_doc" --out "$GOVCAT_HOME/proof.json"
govcat release verify sample-corpus --proof "$GOVCAT_HOME/proof.json"
step "Tamper with a copy of the release: flip one byte of a shard, verify names it"
cp -r "$release_dir" "$GOVCAT_HOME/tampered"
python - "$GOVCAT_HOME/tampered/data/part-00000.parquet" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x01
open(path, "wb").write(data)
PY
if govcat release verify "$GOVCAT_HOME/tampered"; then
  echo "tampering went unnoticed" >&2; exit 1
else
  echo "(exit $? as expected: the damaged shard and its documents are named above)"
fi
step "A rights holder opts out after the release; the next cut leaves their page out"
govcat optout add --domain news.example.org --requester legal@news.example.org \
  --received 2026-11-30
govcat release cut latest --name sample-corpus --version 1.0.1
govcat release diff sample-corpus@1.0.0 sample-corpus@1.0.1
step "Review training mixtures: the release for commercial use in the EU, then for research"
govcat mixture create sample-commercial --component sample-corpus@1.0.0:2 \
  --intended-use commercial --jurisdiction EU --description "two epochs of the sample corpus"
govcat mixture review sample-commercial || true
govcat mixture create sample-research --component sample-corpus@1.0.1:1 \
  --intended-use research --jurisdiction EU
govcat mixture review sample-research --html --out "$GOVCAT_HOME/sample-research-review.html"
govcat mixture sign-off sample-research --decision approve \
  --note "research use by a research organisation (DSM Art. 3); attribution file shipped"
govcat mixture show sample-research
step "One source in full"
govcat source show sample-forum
step "Audit log"
govcat audit log --limit 5
govcat audit verify
step "The reports of the release to hand over: sample-corpus@1.0.1"
govcat report all sample-corpus@1.0.1 --meta samples/release.yaml
