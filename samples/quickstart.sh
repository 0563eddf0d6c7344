#!/usr/bin/env bash
# The main job on the embedded default (SQLite under .govcat-quickstart/): register the sample
# sources, review and approve them, and show what the catalog knows. Later stages (ingest,
# gate, process, release, datasheet) join this script as they land.
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
step "One source in full"
govcat source show sample-forum
step "Audit log"
govcat audit log --limit 5
govcat audit verify
