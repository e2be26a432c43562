"""sqlite_embed_build: the PEP 517 build backend of the Python package
sqlite_embed, on the standard library alone, so that
`python3 -m pip install .` downloads nothing.

    python3 -m pip install .        # pip calls build_wheel() below
    python3 -c 'import sqlite_embed_build as b; print(b.build_wheel("dist"))'  # from python/

HOW IT WORKS
build_wheel() runs `make pkg-ext` in the source tree: the project's own
build, with the Makefile's flags and the system C compiler, of
build/pkg/embed.so (an extension with no built-in model path: the package
registers its own copy of the model), and models/default.emb when it is
missing.  It then writes the wheel itself, a zip file: the modules of
python/sqlite_embed/, embed.so and default.emb beside them, and the
.dist-info (METADATA, WHEEL, entry_points.txt, RECORD with each file's
sha256), tagged py3-none-<platform> since the extension is native code but
does not use Python's C API.  The version is SQLITE_EMBED_VERSION from
include/sqlite-embed.h; the rest of the metadata is pyproject.toml's
[project] table.  build_sdist() packs the source tree (git's file list when
it is a git checkout) with a PKG-INFO.  Editable installs are not supported.
Errors are RuntimeError with what failed and what to do.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG_SRC = os.path.join(ROOT, "python", "sqlite_embed")
EXT = os.path.join(ROOT, "build", "pkg", "embed.so")
MODEL = os.path.join(ROOT, "models", "default.emb")
# Files stored uncompressed: the model is mapped as it is, and float rows
# hardly compress.
STORED = {"sqlite_embed/default.emb"}


def _version() -> str:
    with open(os.path.join(ROOT, "include", "sqlite-embed.h"), encoding="utf-8") as f:
        m = re.search(r'#define\s+SQLITE_EMBED_VERSION\s+"([^"]+)"', f.read())
    if not m:
        raise RuntimeError("sqlite_embed_build: no SQLITE_EMBED_VERSION in include/sqlite-embed.h")
    return m.group(1)


def _project() -> Dict[str, Any]:
    """pyproject.toml's [project] table (tomllib from Python 3.11; before
    it, the plain `key = "string"` lines this project's file uses)."""
    path = os.path.join(ROOT, "pyproject.toml")
    try:
        import tomllib
        with open(path, "rb") as f:
            return dict(tomllib.load(f).get("project", {}))
    except ImportError:
        pass
    table: Dict[str, Any] = {}
    section = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]")
                continue
            m = re.fullmatch(r'([A-Za-z0-9_.-]+)\s*=\s*"([^"]*)"', line)
            if not m:
                continue
            if section == "project":
                table[m.group(1)] = m.group(2)
            elif section == "project.scripts":
                table.setdefault("scripts", {})[m.group(1)] = m.group(2)
    return table


def _names() -> Tuple[str, str, str]:
    """(distribution name, its file-name form, version)."""
    name = _project().get("name", "sqlite-embed")
    return name, re.sub(r"[-_.]+", "_", name).lower(), _version()


def _platform_tag() -> str:
    return re.sub(r"[-.]", "_", sysconfig.get_platform())


def _metadata() -> str:
    proj = _project()
    name, _, version = _names()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if proj.get("description"):
        lines.append(f"Summary: {proj['description']}")
    if proj.get("requires-python"):
        lines.append(f"Requires-Python: {proj['requires-python']}")
    lines.append("Description-Content-Type: text/markdown")
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return "\n".join(lines) + "\n\n" + readme


def _wheel_files() -> List[Tuple[str, str]]:
    """(path in the wheel, path on disk) of the package's files."""
    files = []
    for fn in sorted(os.listdir(PKG_SRC)):
        if fn.endswith(".py") or fn == "py.typed":
            files.append((f"sqlite_embed/{fn}", os.path.join(PKG_SRC, fn)))
    files.append(("sqlite_embed/embed.so", EXT))
    files.append(("sqlite_embed/default.emb", MODEL))
    return files


def _run_make() -> None:
    make = os.environ.get("MAKE", "make")
    cmd = [make, "-C", ROOT, "pkg-ext"]
    print("sqlite_embed_build: " + " ".join(cmd), file=sys.stderr, flush=True)
    try:
        rc = subprocess.call(cmd, stdout=sys.stderr)
    except OSError as e:
        raise RuntimeError(f"sqlite_embed_build: cannot run '{make}': {e} "
                           "(install make and a C compiler: bash tools/setup.sh demo)") from None
    if rc != 0:
        raise RuntimeError(f"sqlite_embed_build: '{' '.join(cmd)}' failed (exit {rc}); "
                           "the build needs gcc, make and libsqlite3-dev (bash tools/setup.sh demo)")
    for path in (EXT, MODEL):
        if not os.path.isfile(path):
            raise RuntimeError(f"sqlite_embed_build: make did not produce '{path}'")


def _zip_time() -> Tuple[int, int, int, int, int, int]:
    """The entries' time: $SOURCE_DATE_EPOCH when set (reproducible
    wheels), else 1980-01-01, the earliest a zip can say."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit() and int(epoch) >= 315532800:
        return time.gmtime(int(epoch))[:6]
    return (1980, 1, 1, 0, 0, 0)


def _dist_info_files() -> List[Tuple[str, bytes]]:
    name, fname, version = _names()
    di = f"{fname}-{version}.dist-info"
    tag = f"py3-none-{_platform_tag()}"
    out = [(f"{di}/METADATA", _metadata().encode()),
           (f"{di}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: sqlite_embed_build {version}\n"
                            f"Root-Is-Purelib: false\nTag: {tag}\n").encode())]
    scripts = _project().get("scripts", {})
    if scripts:
        text = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
        out.append((f"{di}/entry_points.txt", text.encode()))
    return out


# --- PEP 517 hooks -------------------------------------------------------

def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str,
                                     config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Write the .dist-info folder (no build needed) and return its name."""
    files = _dist_info_files()
    di = files[0][0].split("/")[0]
    for arc, data in files:
        path = os.path.join(metadata_directory, arc)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return di


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    """Build the extension with make, write the wheel into wheel_directory
    and return its file name."""
    _run_make()
    _, fname, version = _names()
    wheel_name = f"{fname}-{version}-py3-none-{_platform_tag()}.whl"
    os.makedirs(wheel_directory, exist_ok=True)
    target = os.path.join(wheel_directory, wheel_name)
    tmp = target + ".part"
    when = _zip_time()
    record: List[str] = []
    dist_info = _dist_info_files()
    di = dist_info[0][0].split("/")[0]

    def add(zf: zipfile.ZipFile, arc: str, src: Optional[str], data: bytes,
            mode: int) -> None:
        # One entry, from the file src (copied in pieces) or from data.
        info = zipfile.ZipInfo(arc, date_time=when)
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_STORED if arc in STORED else zipfile.ZIP_DEFLATED
        digest, size = hashlib.sha256(), 0
        info.file_size = os.path.getsize(src) if src else len(data)
        with (open(src, "rb") if src else io.BytesIO(data)) as f, zf.open(info, "w") as out:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        b64 = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={b64},{size}")

    with zipfile.ZipFile(tmp, "w") as zf:
        for arc, src in _wheel_files():
            add(zf, arc, src, b"", 0o755 if arc.endswith(".so") else 0o644)
        for arc, data in dist_info:
            add(zf, arc, None, data, 0o644)
        info = zipfile.ZipInfo(f"{di}/RECORD", date_time=when)
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, "\n".join(record + [f"{di}/RECORD,,"]) + "\n")
    os.replace(tmp, target)
    return wheel_name


def _source_files() -> List[str]:
    """The source tree's files, relative to ROOT: git's list when this is
    a git checkout, else every file but build output and caches."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True,
                             capture_output=True).stdout
        files = [f for f in out.decode().split("\0") if f]
        if files:
            return sorted(f for f in files if os.path.isfile(os.path.join(ROOT, f)))
    except (OSError, subprocess.CalledProcessError):
        pass
    skip_dirs = {".git", "build", "cache", "node_modules", "__pycache__"}
    files = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        for fn in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, fn), ROOT)
            if not rel.endswith((".emb", ".o", ".pyc", ".tgz")):
                files.append(rel)
    return files


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Pack the source tree as NAME-VERSION.tar.gz; return its file name."""
    _, fname, version = _names()
    base = f"{fname}-{version}"
    os.makedirs(sdist_directory, exist_ok=True)
    target = os.path.join(sdist_directory, base + ".tar.gz")
    tmp = target + ".part"
    with tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        pkg_info = _metadata().encode()
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size = len(pkg_info)
        ti.mode = 0o644
        tf.addfile(ti, io.BytesIO(pkg_info))
        for rel in _source_files():
            tf.add(os.path.join(ROOT, rel), arcname=f"{base}/{rel}", recursive=False)
    os.replace(tmp, target)
    return base + ".tar.gz"


__all__ = ["build_wheel", "build_sdist", "get_requires_for_build_wheel",
           "get_requires_for_build_sdist", "prepare_metadata_for_build_wheel"]
