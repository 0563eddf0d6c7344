"""Licence detection and conclusion for files, texts and code trees.

- `scancode`   scancode-toolkit (primary detector): `detect_file`, `detect_text`, `detect_tree`
- `golicense`  go-license-detector through its CLI, when the binary is on PATH (second opinion)
- `cache`      `LicenseCache`: findings by (detector, version, file sha256)
- `conclude`   from findings to a concluded licence per file, with the reasons and conflicts
- `reading`    how a licence file reads: primary licence, secondary quotes, GNU versions, choices
- `prose`      a licence file cut into paragraphs, headings and sentences, and the words of scope
- `tree`       licence files, nearest ancestors and manifests of a code tree

Detectors return `ingest.types.LicenseFinding`s; nothing here decides what a licence allows
(that is `policies.taxonomy`). scancode-toolkit is imported only when a scan runs.
"""

from ingest.licensing.cache import LicenseCache
from ingest.licensing.conclude import Conclusion, conclude, conclude_tree, nearest_license_files

__all__ = ["Conclusion", "LicenseCache", "conclude", "conclude_tree", "nearest_license_files"]
