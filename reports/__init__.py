"""Releases and the documents that describe them: a library with no database.

The catalog chooses what goes into a release and calls this package to write it; a recipient
without the catalog uses the same package to check it (docs/release-format.md):
`release_files` (deterministic text shards and the index), `merkle` (RFC 6962 tree and
inclusion proofs), `manifest` (manifest.json and the folder layout), `verify` (checks a folder
from its own files), `signing` (OpenSSF model-signing with EC keys) and `errors`.
Nothing heavy is imported here: pyarrow and model-signing load in the modules that use them.
"""
