"""Licence names as packages write them, mapped to SPDX ids: trove classifiers and GNU names.

- `classifier_license(classifier)`  a `License :: ...` trove classifier (PyPI, setup.cfg,
  pyproject `classifiers`) to its SPDX id. A classifier that names a family but not a licence
  ("BSD License", "GNU General Public License (GPL)", "Apache Software License": no version)
  maps to None: it supports what a licence file says without deciding it.
- `gnu_license_name(value)`  a short free-text GNU licence name ("GPLv3+", "LGPL v2.1 or
  later", "GNU Affero General Public License v3") to its SPDX id, `-or-later` when the name
  says "+", "or later" or "or any later version" and `-only` otherwise.

Nothing here guesses: a name that could mean two licences maps to None.
"""

from __future__ import annotations

import re

from common.spdx import try_normalize

__all__ = ["LICENSE_CLASSIFIER_PREFIX", "classifier_license", "gnu_license_name",
           "is_license_classifier"]

LICENSE_CLASSIFIER_PREFIX = "License ::"

# The trove licence classifiers that name exactly one SPDX licence (the last segment of the
# classifier, as PyPI spells it). Unversioned family names are absent on purpose.
_CLASSIFIERS: dict[str, str] = {
    "Aladdin Free Public License (AFPL)": "Aladdin",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "CeCILL-B Free Software License Agreement (CECILL-B)": "CECILL-B",
    "CeCILL-C Free Software License Agreement (CECILL-C)": "CECILL-C",
    "Attribution Assurance License": "AAL",
    "Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)": "CECILL-2.1",
    "CMU License (MIT-CMU)": "MIT-CMU",
    "Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
    "Common Public License": "CPL-1.0",
    "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Educational Community License, Version 2.0 (ECL-2.0)": "ECL-2.0",
    "European Union Public Licence 1.0 (EUPL 1.0)": "EUPL-1.0",
    "European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
    "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "IBM Public License": "IPL-1.0",
    "ISC License (ISCL)": "ISC",
    "Intel Open Source License": "Intel",
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "MirOS License (MirOS)": "MirOS",
    "Motosoto License": "Motosoto",
    "Mozilla Public License 1.0 (MPL)": "MPL-1.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Mulan Permissive Software License v2 (MulanPSL-2.0)": "MulanPSL-2.0",
    "Nethack General Public License": "NGPL",
    "Nokia Open Source License": "Nokia",
    "Open Group Test Suite License": "OGTSL",
    "Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
    "PostgreSQL License": "PostgreSQL",
    "Python License (CNRI Python License)": "CNRI-Python",
    "Python Software Foundation License": "PSF-2.0",
    "Qt Public License (QPL)": "QPL-1.0",
    "Ricoh Source Code Public License": "RSCPL",
    "SIL Open Font License 1.1 (OFL-1.1)": "OFL-1.1",
    "Sleepycat License": "Sleepycat",
    "Sun Industry Standards Source License (SISSL)": "SISSL",
    "Sun Public License": "SPL-1.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "Universal Permissive License (UPL)": "UPL-1.0",
    "University of Illinois/NCSA Open Source License": "NCSA",
    "Vovida Software License 1.0": "VSL-1.0",
    "W3C License": "W3C",
    "X.Net License": "Xnet",
    "Zero-Clause BSD (0BSD)": "0BSD",
    "zlib/libpng License": "Zlib",
}


def is_license_classifier(classifier: str) -> bool:
    return classifier.strip().startswith(LICENSE_CLASSIFIER_PREFIX)


def classifier_license(classifier: str) -> str | None:
    """The SPDX id a `License :: ...` classifier names, or None (family only, or unknown)."""
    if not is_license_classifier(classifier):
        return None
    last = classifier.split("::")[-1].strip()
    return _CLASSIFIERS.get(last)


# Short names only: a sentence that merely mentions the GPL is not a licence name.
_MAX_NAME = 100
_FAMILY = re.compile(
    r"^(?:the\s+)?(?:gnu\s+)?(?P<family>"
    r"a(?:ffero\s+)?(?:gpl|general\s+public)|"
    r"l(?:esser\s+|ibrary\s+)?(?:gpl|general\s+public)|"
    r"gpl|general\s+public)",
    re.IGNORECASE,
)
_VERSION = re.compile(r"(?:^|\bv(?:ersion)?\s*|[\s-])(?P<major>\d)(?:\.(?P<minor>\d))?",
                      re.IGNORECASE)
_OR_LATER = re.compile(r"\+|\bor\s+(?:\(at\s+your\s+option\)\s+)?(?:any\s+)?(?:later|newer)\b|"
                       r"\band\s+later\b|-or-later\b", re.IGNORECASE)
_ONLY = re.compile(r"-only\b|\bonly\b", re.IGNORECASE)
# Words that mean the value names more than one licence, or something else than a GNU licence.
_OTHER = re.compile(r"\b(?:and|or|with|exception|mit|bsd|apache|mozilla|mpl|classpath|linking)\b|"
                    r"[,;/&]", re.IGNORECASE)


def gnu_license_name(value: str) -> str | None:
    """The SPDX id of a short GNU licence name, or None when `value` is not one."""
    text = " ".join(value.split())
    if not text or len(text) > _MAX_NAME:
        return None
    family_match = _FAMILY.match(text)
    if family_match is None:
        return None
    rest = text[family_match.end():]
    # "or later" is not another licence; remove it before looking for other licence names.
    if _OTHER.search(_OR_LATER.sub(" ", rest).replace("(", " ").replace(")", " ")):
        return None
    version = _VERSION.search(rest)
    if version is None:
        return None
    family = family_match["family"].lower()
    prefix = "AGPL" if family.startswith("a") else "LGPL" if family.startswith("l") else "GPL"
    number = f"{version['major']}.{version['minor'] or '0'}"
    suffix = "-or-later" if _OR_LATER.search(rest) and not _ONLY.search(rest) else "-only"
    return try_normalize(f"{prefix}-{number}{suffix}")
