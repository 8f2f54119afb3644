"""One checksummed zip of data files, for a room that should not download the same treebanks thirty times.

An instructor packs what the session's notebooks read (``xlmeta data pack FILE.zip --notebooks 03``), hands the
file out or uploads it to Colab, and each learner either unpacks it (``xlmeta data unpack FILE.zip``, into the user
cache where the notebooks look by default) or points ``XLMETA_DATA`` at the zip itself, which is unpacked once
into the cache on first use.

The zip is laid out like the data mirror (``UD_French-GSD/fr_gsd-ud-test.conllu``) and carries a manifest of
every member's sha256. Unpacking checks each member against it and refuses a member the manifest does not list,
or a path that would land outside the target folder; the registry's pinned sha256s are checked again when a file
is resolved, so a bundle cannot smuggle in other bytes than the workbook's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

MANIFEST = "xlmeta-data-manifest.json"
_COMPLETE = ".unpacked"


class BundleError(ValueError):
    """A bundle that is not one: no manifest, a member that differs from it, or an unsafe path."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(files: Mapping[str, Path], target: str | os.PathLike) -> Path:
    """Write ``files`` (mirror-relative path -> local file) and their manifest into the zip ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    manifest = {}
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relpath in sorted(files):
            data = Path(files[relpath]).read_bytes()
            manifest[relpath] = _sha256(data)
            archive.writestr(relpath, data)
        archive.writestr(MANIFEST, json.dumps({"format": 1, "files": manifest}, indent=1) + "\n")
    os.replace(partial, target)
    return target


def manifest_of(bundle: str | os.PathLike) -> dict[str, str]:
    """The bundle's mirror-relative paths and their sha256s."""
    with zipfile.ZipFile(bundle) as archive:
        try:
            return dict(json.loads(archive.read(MANIFEST))["files"])
        except KeyError:
            raise BundleError(f"{bundle} is not an xlmeta data bundle: it has no {MANIFEST}") from None


def _safe(relpath: str) -> PurePosixPath:
    path = PurePosixPath(relpath)
    if path.is_absolute() or ".." in path.parts:
        raise BundleError(f"bundle member {relpath!r} would be written outside the data folder")
    return path


def unpack(bundle: str | os.PathLike, into: str | os.PathLike) -> Path:
    """Extract every member of ``bundle`` into ``into`` after checking it against the manifest; returns ``into``."""
    into = Path(into)
    expected = manifest_of(bundle)
    with zipfile.ZipFile(bundle) as archive:
        members = [name for name in archive.namelist() if name != MANIFEST and not name.endswith("/")]
        unlisted = sorted(set(members) - set(expected))
        missing = sorted(set(expected) - set(members))
        if unlisted or missing:
            raise BundleError(
                f"{bundle}: members and manifest disagree (unlisted {unlisted}, missing {missing})"
            )
        for name in members:  # every member checked before any is written: a damaged bundle leaves nothing
            _safe(name)
            if _sha256(archive.read(name)) != expected[name]:
                raise BundleError(f"{bundle}: {name} does not match its manifest's sha256 (a damaged copy?)")
        for name in members:
            path = into / _safe(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            partial.write_bytes(archive.read(name))
            os.replace(partial, path)
    return into


def unpacked_folder(bundle: str | os.PathLike, cache: str | os.PathLike) -> Path:
    """The folder under ``cache`` holding ``bundle``'s files, unpacked on the first call for this very file
    (its name, size and modification time); an interrupted unpacking starts again."""
    bundle = Path(bundle)
    if not zipfile.is_zipfile(bundle):
        raise BundleError(f"{bundle} is not a zip file")
    stat = bundle.stat()
    folder = Path(cache) / "bundles" / f"{bundle.stem}-{stat.st_size}-{stat.st_mtime_ns}"
    if not (folder / _COMPLETE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        unpack(bundle, folder)
        (folder / _COMPLETE).write_text(str(bundle.resolve()) + "\n", encoding="utf-8")
    return folder
