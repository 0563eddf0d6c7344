"""The bottom layer: small pieces every other package shares, written once.

`common` imports nothing of ours; `ingest`, `policies` and `processing` sit on it (the
import-linter layers contract in pyproject.toml says so). It holds only what more than one
package needs and what has no domain of its own: atomic file writing and hashing (`atomic`),
SPDX licence expressions (`spdx`) and the registry of plugins by versioned name (`registry`).
"""
