"""Licence conclusions on real packages' licence files: govcat against scancode alone.

Packages (`--source`):
  installed  Python distributions installed here (this interpreter's site-packages, the
             bench venvs, `--site DIR`) and npm packages under node_modules folders (`npm root
             -g`, `--node-modules DIR`): real PyPI and npm packages, as their registries served
             them, read from disk. No network.
  registry   the packages of POPULAR_PYPI / POPULAR_NPM below, fetched with the registries'
             own clients (`pip download --no-deps`, `npm pack`) into bench/.cache/ (git-ignored:
             the downloaded files are never committed). Needs the registries.
  both       the two together (a package found in both is taken once, from the registry).

Truth: each package's declared licence metadata — PyPI core metadata `License-Expression`,
else `License` when it is an SPDX expression or a GNU name ("GPLv3+"), else its licence
classifiers when each names one licence (several: a choice); npm's `license`. A package whose
metadata names no licence that way, or that ships no licence file, is counted and left out.

On the same licence files of each package (one scancode scan, cached under bench/.cache/):
  scancode                    scancode's own `detected_license_expression_spdx` of each file
                              (its detections joined with AND, as `scancode --license` reports),
                              joined over the package's licence files;
  govcat, files               `conclude` on the same findings and texts, no package metadata,
                              for the package's top folder: its nearest licence files are those
                              of the shallowest folder (deeper ones, like ansible-core's
                              licenses/licenses/*.txt, are for the folders they sit in);
  govcat, files + metadata    `conclude` with the package's manifest (METADATA / PKG-INFO /
                              package.json) as package metadata — how a code tree is concluded.
The truth comes from the same metadata the last column reads, so that column shows what the
conclusion makes of metadata beside the files (GNU versions, how licences combine), not an
independent accuracy; the first two columns see the files only.
A conclusion is right when it is equivalent to the truth (boolean equivalence over SPDX ids),
with one alias: PSF-2.0 = Python-2.0 (scancode names the Python licence file Python-2.0;
packages declare PSF-2.0, its first part).

Categories (a package may be in several): gpl-or-later (the truth has a GNU -or-later id),
gnu-only (a GNU -only id), dual (the truth has OR), bundled-quotes (scancode finds licences in
the files that the truth does not name), plain-permissive (one permissive id, no bundled
quotes), other.

Run:  .venv/bin/python bench/license_accuracy.py [--source installed|registry|both] [--n 150]
      [--workers 2] [--results FILE] [--details FILE.jsonl]
"""

from __future__ import annotations

import argparse
import email.parser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from common import spdx
from ingest.code_licenses import package_metadata_licenses
from ingest.license_names import classifier_license, gnu_license_name, is_license_classifier
from ingest.licensing import scancode
from ingest.licensing.cache import LicenseCache
from ingest.licensing.conclude import conclude, is_license_file

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "license_accuracy"
ALIASES = {"PSF-2.0": "Python-2.0"}
PERMISSIVE = frozenset({"MIT", "MIT-0", "ISC", "0BSD", "BSD-2-Clause", "BSD-3-Clause", "Zlib",
                        "Apache-2.0", "Unlicense", "BlueOak-1.0.0", "CC0-1.0", "BSL-1.0",
                        "MIT-CMU", "Python-2.0", "PSF-2.0", "HPND", "PostgreSQL", "NCSA"})
CATEGORIES = ("gpl-or-later", "gnu-only", "dual", "bundled-quotes", "plain-permissive", "other")
_MAX_FILE = 1_000_000

# Popular packages, chosen to hold every shape: GNU licences with and without "or later",
# dual licences, licence files quoting bundled parts, and the plain permissive majority.
POPULAR_PYPI = (
    # shapes interleaved, so that a small --n holds each of them
    "ansible-core", "dulwich", "typing-extensions", "requests", "paramiko", "python-dateutil",
    "numpy", "urllib3", "pylint", "simplejson", "docutils", "certifi", "astroid",
    "text-unidecode", "matplotlib", "idna", "mysqlclient", "pycairo", "regex", "six",
    "pyqt5", "cryptography", "pycryptodome", "packaging", "pyinstaller", "tld", "defusedxml",
    "pyyaml", "mutagen", "frozendict", "contextlib2", "setuptools", "unidecode", "psycopg2-binary",
    "distlib", "attrs", "pygobject", "chardet", "tqdm", "jinja2", "gnureadline", "pyenchant",
    "scipy", "click", "python-gnupg", "logilab-common", "pillow", "pytz", "yt-dlp", "lxml",
    "charset-normalizer", "pexpect", "mpmath", "cffi", "pyserial", "pyzmq", "markupsafe",
    "gitpython", "pandas", "sympy", "networkx", "pyparsing", "fonttools", "psutil", "pygments",
    "beautifulsoup4", "html5lib", "filelock", "platformdirs", "rsa", "pyasn1", "wcwidth",
    "prompt-toolkit", "babel", "sphinx", "future", "bleach",
)
POPULAR_NPM = (
    "jszip", "node-forge", "typescript", "dompurify", "pako", "lodash", "ckeditor4", "rc",
    "caniuse-lite", "openpgp", "jsplumb", "react", "web3-utils", "json-schema", "argparse",
    "express", "atob", "sha.js", "tslib", "@fortawesome/fontawesome-free", "spdx-exceptions",
    "chalk", "commander", "debug", "moment", "axios", "uuid", "jquery", "underscore", "async",
    "bluebird", "yargs", "minimist", "semver", "glob", "rimraf", "mkdirp", "ieee754",
    "esprima", "highlight.js", "ace-builds", "pdfjs-dist", "leaflet", "sharp", "buffer",
    "big.js", "xmldom", "prismjs", "codemirror", "font-awesome",
)


@dataclass
class Package:
    ecosystem: str  # "pypi" or "npm"
    name: str
    version: str
    files: dict[str, Path]  # licence files by their name inside the package
    manifest_dir: Path  # where package_metadata_licenses finds the manifest
    truth: str | None = None
    truth_field: str = ""
    results: dict[str, str | None] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.ecosystem}/{self.name.lower().replace('_', '-')}"


# ------------------------------------------------------------------------------ truth


def pypi_truth(metadata_text: str) -> tuple[str | None, str]:
    headers = email.parser.HeaderParser().parsestr(metadata_text)
    expression = (headers.get("License-Expression") or "").strip()
    if expression and spdx.try_normalize(expression):
        return spdx.normalize(expression), "License-Expression"
    value = (headers.get("License") or "").strip()
    named = spdx.try_normalize(value) if value and len(value) < 200 else None
    named = named or (gnu_license_name(value) if value else None)
    if named:
        return named, "License"
    classifiers = [c for c in headers.get_all("Classifier") or [] if is_license_classifier(c)]
    ids = [classifier_license(c) for c in classifiers]
    if ids and all(ids):
        return spdx.or_all(i for i in ids if i), "classifiers"
    return None, ""


def npm_truth(package_json: dict) -> tuple[str | None, str]:
    value = package_json.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    if isinstance(value, str) and spdx.try_normalize(value):
        return spdx.normalize(value), "license"
    types = [e.get("type") for e in package_json.get("licenses") or [] if isinstance(e, dict)]
    if types and all(isinstance(t, str) and spdx.try_normalize(t) for t in types):
        return spdx.or_all(spdx.normalize(t) for t in types), "licenses"
    return None, ""


# ------------------------------------------------------------------------------ packages


def _licence_files(folder: Path, *, recurse: bool) -> dict[str, Path]:
    found = {}
    candidates = folder.rglob("*") if recurse else folder.iterdir()
    for path in sorted(candidates):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= _MAX_FILE \
                and (is_license_file(path.name) or rel.startswith("licenses/")):
            found[rel] = path
    return found


def installed_pypi(site_dirs: list[Path]) -> list[Package]:
    out = []
    for site in site_dirs:
        for info in sorted(site.glob("*.dist-info")):
            metadata = info / "METADATA"
            if not metadata.is_file():
                continue
            headers = email.parser.HeaderParser().parsestr(metadata.read_text(errors="replace"))
            files = _licence_files(info, recurse=True)
            package = Package("pypi", headers.get("Name") or info.name,
                              headers.get("Version") or "", files, info)
            package.truth, package.truth_field = pypi_truth(metadata.read_text(errors="replace"))
            out.append(package)
    return out


def npm_package(folder: Path) -> Package | None:
    try:
        data = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    package = Package("npm", data["name"], str(data.get("version", "")),
                      _licence_files(folder, recurse=False), folder)
    package.truth, package.truth_field = npm_truth(data)
    return package


def installed_npm(roots: list[Path]) -> list[Package]:
    out = []
    for root in roots:
        for manifest in sorted(root.rglob("package.json")):
            folder = manifest.parent
            if folder.parent.name != "node_modules" and folder.parent.parent.name != "node_modules":
                continue  # a package's own test fixtures, not a package
            package = npm_package(folder)
            if package is not None:
                out.append(package)
    return out


def _run(command: list[str], cwd: Path) -> bool:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        print(f"  {' '.join(command)}: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return done.returncode == 0


def registry_pypi(names: list[str]) -> list[Package]:
    downloads, unpacked = CACHE / "pypi", CACHE / "unpacked" / "pypi"
    downloads.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        target = downloads / name
        if not any(target.glob("*")):
            target.mkdir(exist_ok=True)
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
                  str(target), name], cwd=downloads)
        archive = next(iter(sorted(target.glob("*"))), None)
        if archive is None:
            continue
        folder = unpacked / name
        if not folder.exists():
            _unpack(archive, folder)
        info = next(iter(sorted(folder.glob("*.dist-info"))), None)
        if info is not None:  # a wheel
            metadata, files = info / "METADATA", _licence_files(info, recurse=True)
            manifest_dir = info
        else:  # an sdist: PKG-INFO and the licence files at the top of the project
            top = next((p.parent for p in sorted(folder.glob("*/PKG-INFO"))), folder)
            metadata, manifest_dir = top / "PKG-INFO", top
            files = _licence_files(top, recurse=False)
        if not metadata.is_file():
            continue
        text = metadata.read_text(errors="replace")
        headers = email.parser.HeaderParser().parsestr(text)
        package = Package("pypi", headers.get("Name") or name, headers.get("Version") or "",
                          files, manifest_dir)
        package.truth, package.truth_field = pypi_truth(text)
        out.append(package)
    return out


def registry_npm(names: list[str]) -> list[Package]:
    downloads, unpacked = CACHE / "npm", CACHE / "unpacked" / "npm"
    downloads.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        slug = name.replace("/", "__")
        target = downloads / slug
        if not any(target.glob("*.tgz")):
            target.mkdir(exist_ok=True)
            _run(["npm", "pack", name, "--silent", "--pack-destination", str(target)],
                 cwd=target)
        archive = next(iter(sorted(target.glob("*.tgz"))), None)
        if archive is None:
            continue
        folder = unpacked / slug
        if not folder.exists():
            _unpack(archive, folder)
        package = npm_package(folder / "package")
        if package is not None:
            out.append(package)
    return out


def _unpack(archive: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(folder)
    else:
        with tarfile.open(archive) as t:
            t.extractall(folder, filter="data")


# ------------------------------------------------------------------------------ scoring


def _aliased(expression: str | None) -> str | None:
    if expression is None:
        return None
    for old, new in ALIASES.items():
        expression = expression.replace(old, new)
    return expression


def right(expression: str | None, truth: str) -> bool:
    if not expression:
        return False
    try:
        return spdx.is_equivalent(_aliased(expression) or "", _aliased(truth) or "")
    except spdx.LicenseExpressionError:
        return False


def categories(truth: str, scancode_keys: frozenset[str]) -> list[str]:
    keys = spdx.license_keys(truth)
    aliased = spdx.license_keys(_aliased(truth) or truth)
    out = []
    if any(k.endswith("-or-later") and "GPL" in k for k in keys):
        out.append("gpl-or-later")
    if any(k.endswith("-only") and "GPL" in k for k in keys):
        out.append("gnu-only")
    if " OR " in truth:
        out.append("dual")
    extra = {k for k in scancode_keys if k not in keys and k not in aliased}
    if extra:
        out.append("bundled-quotes")
    if len(keys) == 1 and keys <= PERMISSIVE and not extra:
        out.append("plain-permissive")
    return out or ["other"]


def scancode_file_expression(findings) -> str | None:
    """scancode's `detected_license_expression_spdx` of one file, from its detections."""
    from licensedcode.cache import build_spdx_license_expression, get_cache
    from packagedcode.utils import combine_expressions

    keys = [f.extra["scancode_expression"] for f in findings if f.extra.get("scancode_expression")]
    if not keys:
        return None
    licensing = get_cache().licensing
    combined = combine_expressions(expressions=keys, relation="AND", unique=True,
                                   licensing=licensing)
    return str(build_spdx_license_expression(str(combined), licensing=licensing))


def root_files(files: dict[str, Path]) -> list[str]:
    """The licence files of the package's top folder: the nearest licence files of its code
    (`LicenseFileIndex`); those deeper down (ansible's licenses/licenses/*.txt) belong to the
    folders they sit in."""
    depth = min(rel.count("/") for rel in files)
    return [rel for rel in files if rel.count("/") == depth]


def sample(packages: list[Package], n: int) -> list[Package]:
    """Up to n packages, taken in turn from the truth's shapes so a small run holds each."""
    def shape(p: Package) -> str:
        t = p.truth or ""
        return ("gnu" if "GPL" in t else "dual" if " OR " in t
                else "permissive" if spdx.license_keys(t) <= PERMISSIVE else "other")

    groups: dict[str, list[Package]] = defaultdict(list)
    for p in sorted(packages, key=lambda p: p.key):
        groups[shape(p)].append(p)
    out: list[Package] = []
    while len(out) < n and any(groups.values()):
        for name in ("gnu", "dual", "other", "permissive"):
            if groups[name] and len(out) < n:
                out.append(groups[name].pop(0))
    return out


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("installed", "registry", "both"),
                        default="installed")
    parser.add_argument("--n", type=int, default=150, help="packages to score")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--site", type=Path, action="append", default=[])
    parser.add_argument("--node-modules", type=Path, action="append", default=[])
    parser.add_argument("--results", type=Path, help="also write the report to this file")
    parser.add_argument("--details", type=Path, help="one JSON line per package")
    args = parser.parse_args()

    found: dict[str, Package] = {}
    if args.source in ("registry", "both"):
        wanted = max(1, args.n // 2)
        for p in registry_pypi(list(POPULAR_PYPI[:wanted])) + registry_npm(
                list(POPULAR_NPM[: args.n - wanted])):
            found.setdefault(p.key, p)
    if args.source in ("installed", "both"):
        sites = args.site or [Path(sysconfig.get_paths()["purelib"]),
                              *sorted(HERE.glob(".venv-*/lib/python*/site-packages"))]
        npm_root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True)
        roots = args.node_modules or [Path(npm_root.stdout.strip() or "/nonexistent")]
        for p in installed_pypi(sites) + installed_npm([r for r in roots if r.is_dir()]):
            found.setdefault(p.key, p)
    every = list(found.values())
    left_out = Counter("no licence file" if not p.files else "no usable truth"
                       for p in every if not p.files or not p.truth)
    chosen = sample([p for p in every if p.files and p.truth], args.n)
    print(f"{len(every)} packages found, {len(chosen)} scored; left out: {dict(left_out)}",
          file=sys.stderr)

    tree = CACHE / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    for p in chosen:
        for rel, source in p.files.items():
            dest = tree / p.key / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    start = time.perf_counter()
    findings = scancode.detect_tree(tree, workers=args.workers,
                                    cache=LicenseCache(CACHE / "scancode"))
    scan_s = time.perf_counter() - start

    for p in chosen:
        mine = {rel: findings.get(f"{p.key}/{rel}", []) for rel in p.files}
        flat = [f for rel in root_files(p.files) for f in mine[rel]]
        texts = {f"{p.key}/{rel}": (tree / p.key / rel).read_text(errors="replace")
                 for rel in p.files}
        per_file = [e for e in (scancode_file_expression(mine[rel]) for rel in p.files) if e]
        p.results["scancode"] = spdx.and_all(per_file) if per_file else None
        metadata = package_metadata_licenses(p.manifest_dir)
        for label, meta in (("govcat, files", []), ("govcat, files + metadata", metadata)):
            c = conclude(path=p.key, header=None, nearest_license_file=flat,
                         package_metadata=meta, repository=[], source_declared=None, texts=texts)
            p.results[label] = c.expression
        p.categories = categories(p.truth or "", frozenset(
            k for e in per_file for k in spdx.license_keys(e)))

    report = render(chosen, args, scan_s, len(every), left_out)
    print(report)
    if args.results:
        args.results.write_text(report + "\n", encoding="utf-8")
    if args.details:
        with args.details.open("w", encoding="utf-8") as out:
            for p in chosen:
                out.write(json.dumps({"package": p.key, "version": p.version, "truth": p.truth,
                                      "truth_field": p.truth_field, "files": sorted(p.files),
                                      "categories": p.categories, **p.results}) + "\n")


def render(chosen: list[Package], args, scan_s: float, found: int, left_out: Counter) -> str:
    columns = ("scancode", "govcat, files", "govcat, files + metadata")
    groups: dict[str, list[Package]] = {"all": chosen}
    for name in CATEGORIES:
        groups[name] = [p for p in chosen if name in p.categories]
    by_ecosystem = Counter(p.ecosystem for p in chosen)
    lines = [
        "# Licence conclusions on real packages' licence files",
        "",
        f"`bench/license_accuracy.py --source {args.source} --n {args.n}`, scancode-toolkit "
        f"{scancode.detector_version()}, Python {sys.version.split()[0]}, {os.cpu_count()} cores "
        f"(load {os.getloadavg()[0]:.1f}). Packages found: {found}; scored: {len(chosen)} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_ecosystem.items()))}); left out: "
        f"{dict(left_out) or 'none'}. scancode scan of the licence files: {scan_s:.1f} s.",
        "",
        "Right = equivalent to the package's declared licence metadata.",
        "",
        "| packages | n | " + " | ".join(columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for name, members in groups.items():
        if not members:
            lines.append(f"| {name} | 0 |" + " – |" * len(columns))
            continue
        cells = []
        for column in columns:
            hits = sum(right(p.results.get(column), p.truth or "") for p in members)
            cells.append(f"{hits}/{len(members)} ({100 * hits / len(members):.0f}%)")
        lines.append(f"| {name} | {len(members)} | " + " | ".join(cells) + " |")
    wrong = [p for p in chosen if not right(p.results.get("govcat, files + metadata"),
                                            p.truth or "")]
    if wrong:
        lines += ["", "govcat (files + metadata) differs from the declared licence:", ""]
        lines += [f"- {p.key} {p.version}: declared {p.truth} ({p.truth_field}); govcat "
                  f"{p.results.get('govcat, files + metadata')}; scancode "
                  f"{p.results.get('scancode')}" for p in wrong[:40]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
