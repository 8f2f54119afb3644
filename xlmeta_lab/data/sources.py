"""Where every data file comes from, and how a key becomes a checked local path.

Why a registry: the workbook's numbers are only comparable if everyone reads the same bytes.
Each file is pinned to a repository commit and a sha256, so a download, a CI mirror and a
colleague's copy are provably the same file.

Resolution (one folder is chosen, then used; there is no silent fallback to another place):

1. the ``data_dir`` argument (``--data-dir`` on the command line), else
2. the ``XLMETA_DATA`` environment variable, else
3. the user cache (``pooch.os_cache("xlmeta-lab")``, or ``XLMETA_CACHE``), where a missing
   file is downloaded from its pinned URL and checked by pooch.

Folders 1 and 2 are laid out like the read-only mirror (``UD_French-GSD/fr_gsd-ud-test.conllu``,
``SIB-200/fra_Latn/test.tsv``), or are a zip of such a folder made by ``xlmeta data pack`` (:mod:`bundle`), which
is unpacked once into the user cache and read from there; a file missing there is an error, not a download, so an
incomplete offline mirror is noticed instead of quietly bypassed. Every file found is checked
against its sha256 (memoised per path, size and mtime); a mismatch is an error.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pooch

from xlmeta_lab.data import bundle

ENV_DATA = "XLMETA_DATA"
ENV_CACHE = "XLMETA_CACHE"

UD_LICENSE_4 = "CC BY-SA 4.0"
UD_LICENSE_3 = "CC BY-SA 3.0"
SIB_LICENSE = "CC BY-SA 4.0 (FLORES-200 text; repository code Apache-2.0)"


class DataError(Exception):
    """Base class for problems with the workbook's data files."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A registered file is neither in the chosen folder nor downloadable right now."""


class ChecksumMismatchError(DataError):
    """A file's bytes differ from the pinned sha256: a corrupted or different version."""


class FileFormatError(ValueError):
    """A data file that does not parse: carries the file, the 1-based line number and what is wrong."""

    def __init__(self, path: str | os.PathLike, line: int, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


@dataclass(frozen=True)
class DataFile:
    """One pinned file: where it lives in a mirror folder and where it comes from online.

    ``filename`` may contain a ``/`` (SIB-200 keeps one folder per language).
    """

    key: str
    folder: str
    filename: str
    url: str
    sha256: str
    license: str
    dataset: str  # "ud" or "sib200"
    lang: str  # short code: "en", "es", "fr"
    split: str  # "dev", "test", "train" or "labels"

    @property
    def relpath(self) -> str:
        return f"{self.folder}/{self.filename}"


# (folder, file stem prefix, commit, license, {split: sha256})
_UD = {
    "en_ewt": (
        "UD_English-EWT",
        "15d613d8447b3478787d4c278730a1e48a945efb",
        UD_LICENSE_4,
        {
            "dev": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
            "test": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
        },
    ),
    "es_gsd": (
        "UD_Spanish-GSD",
        "57c045644664e5c1e169263cc4e3b95e40c078ba",
        UD_LICENSE_4,
        {
            "dev": "d5018974cb6a4adb03435f76ac4914a388f4fc763b35b6c4a6a2dc27874b0dff",
            "test": "37612cb7cc13eab62e6f95b06504a31f252ecc56acb52a06d142bf872318b872",
        },
    ),
    "fr_gsd": (
        "UD_French-GSD",
        "830e2782304af08b3cc1c9250475343e04274d81",
        UD_LICENSE_4,
        {
            "dev": "3e7531b645e5bd6fe37bb619cdd8292e87f5937e64cd8627b4094324eb830e6b",
            "test": "5d1743c7a9ce2908943d4a430ed9a77755e2a8d7e32d42ee0f1d6a0b528f0be8",
        },
    ),
    "en_pud": (
        "UD_English-PUD",
        "f16eba4ae7f3d161870ed320676c5088b8fa476c",
        UD_LICENSE_3,
        {"test": "c80584f2bc2b31d5bada78a1136f9feec7ac49e5e18898db02dea434b5b8f0aa"},
    ),
    "es_pud": (
        "UD_Spanish-PUD",
        "818a82b8628c9cbec78750c7e83ccba34b9ce22b",
        UD_LICENSE_3,
        {"test": "48a7b5c7f409100b24eba90c7397e01f6fecaaf3207315a9a1bda029f77e98d3"},
    ),
    "fr_pud": (
        "UD_French-PUD",
        "c245786cfb3020d43bcfc96215ae531a1b07bcbc",
        UD_LICENSE_3,
        {"test": "793540702db111d2bfe04f846edddb23e7a2a432294fe17cb612dd795fb0301f"},
    ),
}

SIB_COMMIT = "593cea88519930f776c1a4a1980b6a35b39dca57"
#: SIB-200 languages in the mirror: FLORES-200 code -> (short code, sha256 of train, dev, test), from
#: SIB-200/PROVENANCE.md (all files added in e7a17215 and unchanged at SIB_COMMIT). Every language's
#: ``labels.txt`` is the same blob.
_SIB: dict[str, tuple[str, str, str, str]] = {
    "eng_Latn": ("en", "056c2989673d0724cb27edb0d9ee5c6305b2548c17f9fd8f2092f40c98ac0156", "48fe23ed3c66e6978c6cdeff3f661ab9ea6451001d967e23d94796b009777181", "fd7012f846f5a8caead1e7419023d64a28351893f3d9c7ebcde4c5481ca5d326"),
    "spa_Latn": ("es", "274f9381c0e6cd8eebbe6dc66e04e8fe81866f565435b92204d212c13a6f5bd5", "53adba2773b99377133cfae38260df5badfbef541e73b674208395c2ae05f834", "971fbbf0ed5e2f4d10953264c9d5ef05d854b654014d3a10b98f50a12443ea41"),
    "fra_Latn": ("fr", "a958d94907b591b27f9be4d878efa01d597992cd707d761358424d16c7919350", "6a1bf1201dbd9aee5d57a5fe65a5ffa5e733d486e7f0c658c264b764e4bde35f", "6ef23d135ee0bde78d907a908dbb5127ab27ee1189b0c2e3db51f328e0707d05"),
    "cat_Latn": ("ca", "c052b174d904da720d0a8850f76082d490f1827ed7ccaa72429d8bb866880c29", "fda9356d5ed2bba53d43b35fc5b7db34af38483bf8e4b376b13332dd94634e27", "d0023172ae92340879f4fdb04a2b949654f7646dbeae4184266bf756f01d18b6"),
    "deu_Latn": ("de", "2c336ae7b65365a2e5c139fdf768c7f229b2faf76678cf0c450d563eecc93a2b", "809f5772264d1504f9ff70458514620eaf04aca0a817e01c181a6ba89b2f6ef6", "c7709a01e81725fd929145787fec51426e3c76be4125b2113b0dfecde9da4b39"),
    "nld_Latn": ("nl", "841bd376ec24a69f818f8b139a81fe60360279947c25c6c350ddce30a83d7456", "5c60d63708cb4b3aa49e5de90f46e64d5f5d31d25465ebdff0574b9b3c46d0ee", "689bb2357e822ffb465bac1d9d604b8368d1da1afec65b437a01b121900339ca"),
    "ron_Latn": ("ro", "b7e3eabc5084e9ebb9e22a4239c9eaa83874afa8db41c51c0960c83923106f70", "40c8787bfa7ec86c595e05fecccb8183ea9b2e9c16938ec0af549445cb04b748", "893e729228ef4760176902e3f6df9b71b06bb48ea3bf5c7f0b3cda762dd09da4"),
    "glg_Latn": ("gl", "a068a5110322f700404948ae0716b655c24dcf7ca80ad8775fc4a78f7456cb1e", "e6d75a7a96200fd02f6dd591ed3bdc6a0ddf06f8c2fc3add74048bf4e7b827ac", "c16d1b8819be9ca3cdfc6636ec6298338e472fe3aa45360642bee87bf6ee8ffa"),
    "oci_Latn": ("oc", "db92f8e6dfafdff5c9de507433f27b05f8a7e3975f81c9b3e38ec81c2d5bd704", "6199289bda8d906e51e5aa992f1eb5266ff0df314868fa0d53a88fd5995051fe", "7a7bd3c7203c671d1c34718d6c7ff1c9c914b90ee0570b73eac391c9f21715c4"),
    "rus_Cyrl": ("ru", "2c5d092fcd73df8b9bf62d93d5acb9e41482fd827b99a9b24273861054ec033e", "92a09f8bad4742f6c7b2a314535ce3e0e2f035726d5dcfa09ca645518302dca3", "9e08f02d142687110b580bf75e28ce643289939582190eb986c948f47c35fee7"),
    "pol_Latn": ("pl", "18d3fb3ba52415c912e18542f7843c45773195f02b632472a36fa0a1d5f038a9", "397536795db97a1803126fd9e5ad4b70aed055097c6626144e7595a9ab9df403", "f7a8837e3af1ee2893131f725594e68694a5e8a47cf49f019f1bf02da873b5f9"),
    "fin_Latn": ("fi", "b6951dbcb32e245299b0b1892a602f7d3f80709c04856f8db6d237ae7c63598f", "551e29c4b47b945d45cd9728d538d63d5534e82e728dcd7807c9804b500cee33", "8116581d0e24aa6e17ae7b32cc2b0bb5bd802128111a385fd69f7fcb97e7d825"),
    "hun_Latn": ("hu", "6804ae2de4b536385b9fb98af03676f1b6914603ac4b497982a30f2f37103a07", "6e7dc01d3d0f7299302e64004e935a7b82b641face80e3ddb2ba9118763b4db2", "1b5aca9cd13b39b8bd661d48af021dcc48bbf17bfd395a12269c016995deb83b"),
    "tur_Latn": ("tr", "a5c8235d89e20d1be01658cf94b3508ab99bbac3ee108c0181f3057659386937", "1aad0dcd4b77f73e038d711069f7b897c31faec4fac2d4f5c03efd4b5abc1c37", "99e45820a77387109f9c6f989be7459881e54a82fcfb743b75b206eb686f0dde"),
    "ind_Latn": ("id", "c6406d1ade3acce6a8bb6640b111a016c1ed72864adb464c736fdb9e9c84786d", "df0a3b6d63bdeb451c1622593063857aa53e1553797e388b3f63731b9a2eec91", "b74f0ef860af5a0e322cd10099fb2a83abfaaf61c6ca6da5628e396d791d60c5"),
    "vie_Latn": ("vi", "d0938c13c6d44d3c2161c591704b6bcc3debf988becd7b59f8d6fa77619f727c", "6044ac110e14c5d1ae2d61c6cde25fba3ed578d763f3987618068aa216c2c475", "1de363037ff166e60f18f002555ef247cd2c80cc90fadc87c0c2ccb6612f42cc"),
    "swh_Latn": ("sw", "80eb1a48a96e895bed890ee2fcdd17ef776dbc330021e601fbf978711b850b01", "b8dfce0f80e7fd5b94a1fdc224fe4bbac6d237061d4a75ec4bb311d8493b3add", "008e4ff2441c46d6fc92714658dedb2c185bafe06cb914e03342734a3a2c8288"),
    "zho_Hans": ("zh", "76e5b0b6a3e8f8249d0574b8574b00a7cf625f00d0ac681cfe2db43dffcc3000", "6725566efdc427daf2ca9fdb557fc803ce6c8e6fee60d6616ac0d8dd194f84fd", "0c8771f4f51e6097f5cf4086b5532edfdee5f374c58c441574c0925f55e07f47"),
    "arb_Arab": ("ar", "2daca4520afcc480de58673348cbae3cb180b79eca58e9409a16059f25b12961", "3e41235ba03924643a9ccffe9606d892005df116ed1e669363a82de67041a19c", "6ee8321b157e9c27e8ad38157ba5e88d085f8449d4a469149a6e1dafb2d26384"),
    "hin_Deva": ("hi", "2cd00a2b1d0f3259a3ed5a7c349f91f8eb73d23e06001b51486b37d684e8fe47", "fb0a429bf9957ac8386f53a987e816fba025d9e496bf590a4d1a40f7df242709", "cf0fa55bb3ed7a146798fa22e6350eae49ae0fb96126e9d84726628b406b55c6"),
    "jpn_Jpan": ("ja", "26ee8f4522cbc9ebed26e51818df33171646e54160c40c3388ddcf10d2145df6", "ee3e5718a6c241280a9fc9d7e3d4fc604023dcd66790063be8f82db2ce926ace", "ced64e76311d1e0e4f1d970b98f907daed78abe471a792da58301fb489a07962"),
}  # fmt: skip
#: FLORES-200 code -> short code (``"fra_Latn"`` -> ``"fr"``), in the order of SIB-200/PROVENANCE.md.
SIB_LANGS: dict[str, str] = {code: row[0] for code, row in _SIB.items()}
_SIB_LABELS_SHA = "f52879a3f02d9edea97f85e3839f242ed4853dd6459d57dfaec1501dc37e95f7"


def _build_registry() -> dict[str, DataFile]:
    files: list[DataFile] = []
    for name, (folder, commit, license_, splits) in _UD.items():
        for split, sha in splits.items():
            filename = f"{name}-ud-{split}.conllu"
            url = f"https://raw.githubusercontent.com/UniversalDependencies/{folder}/{commit}/{filename}"
            files.append(
                DataFile(f"{name}-{split}", folder, filename, url, sha, license_, "ud", name[:2], split)
            )
    for code, (short, *shas) in _SIB.items():
        for split, sha in (*zip(("train", "dev", "test"), shas), ("labels", _SIB_LABELS_SHA)):
            filename = f"{code}/{'labels.txt' if split == 'labels' else split + '.tsv'}"
            url = f"https://raw.githubusercontent.com/dadelani/sib-200/{SIB_COMMIT}/data/annotated/{filename}"
            files.append(
                DataFile(
                    f"sib200-{code}-{split}",
                    "SIB-200",
                    filename,
                    url,
                    sha,
                    SIB_LICENSE,
                    "sib200",
                    short,
                    split,
                )
            )
    return {f.key: f for f in files}


REGISTRY: dict[str, DataFile] = _build_registry()


def entry(key: str) -> DataFile:
    """The registry entry for *key*; an unknown key lists the known ones."""
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown data key {key!r}; known keys: {', '.join(REGISTRY)}") from None


def cache_dir() -> Path:
    """The user cache folder: ``XLMETA_CACHE`` if set, else pooch's per-user cache."""
    return Path(os.environ.get(ENV_CACHE) or pooch.os_cache("xlmeta-lab"))


def data_folder(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The folder files are read from, and why it was chosen (shown in messages). A zip made by
    ``xlmeta data pack`` stands for the folder it unpacks to (once, into the user cache)."""
    if data_dir is not None:
        folder, why = Path(data_dir), "given as data_dir / --data-dir"
    elif os.environ.get(ENV_DATA):
        folder, why = Path(os.environ[ENV_DATA]), f"from ${ENV_DATA}"
    else:
        return cache_dir(), "the user cache"
    if folder.suffix == ".zip" and folder.is_file():
        return bundle.unpacked_folder(folder, cache_dir()), f"{why}, unpacked from the bundle {folder}"
    return folder, why


def require_folder(folder: str | os.PathLike) -> Path:
    """*folder* as a Path if it is a directory; otherwise a DataNotFoundError saying how to set one up."""
    path = Path(folder)
    if not path.is_dir():
        raise DataNotFoundError(
            f"data folder {path} does not exist. Point {ENV_DATA} (or --data-dir) at a folder laid out like "
            f"the mirror (UD_French-GSD/..., SIB-200/...), e.g. ../shared/data, or create it with "
            f"`xlmeta data fetch --data-dir {path}`."
        )
    return path


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def sha256_of(path: str | os.PathLike) -> str:
    """sha256 of a file, memoised per (path, size, mtime) so repeated checks are free."""
    path = Path(path)
    stat = path.stat()
    memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo_key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _SHA_MEMO[memo_key] = digest.hexdigest()
    return _SHA_MEMO[memo_key]


def _check(item: DataFile, path: Path) -> Path:
    actual = sha256_of(path)
    if actual != item.sha256:
        raise ChecksumMismatchError(
            f"{path} does not match the pinned file {item.key!r}: sha256 {actual}, expected {item.sha256}. "
            f"Delete it and run `xlmeta data fetch`, or replace it with the file from {item.url}"
        )
    return path


def how_to_provide(item: DataFile) -> str:
    """The three ways to make a file available, used in every 'missing' message."""
    return (
        f"Provide {item.relpath} in one of three ways:\n"
        f"  1. pass a folder laid out like the mirror: data_dir=... / --data-dir DIR "
        f"(containing {item.relpath});\n"
        f"  2. set {ENV_DATA}=/path/to/folder laid out the same way (e.g. ../shared/data);\n"
        f"  3. go online once so it is downloaded into the cache ({cache_dir()}): "
        f"`xlmeta data fetch` (source: {item.url})."
    )


def _download(item: DataFile, folder: Path) -> Path:
    target = folder / item.relpath
    try:
        fetched = pooch.retrieve(
            item.url,
            known_hash=f"sha256:{item.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=False,
        )
    except ValueError as err:  # pooch: downloaded bytes do not match known_hash
        raise ChecksumMismatchError(
            f"download of {item.key!r} from {item.url} failed its sha256 check: {err}"
        ) from err
    except OSError as err:  # requests' network errors are OSErrors too
        raise DataNotFoundError(
            f"{item.relpath} ({item.key}) is not in {folder} and could not be downloaded "
            f"({type(err).__name__}: {err}).\n{how_to_provide(item)}"
        ) from err
    return _check(item, Path(fetched))


def resolve(key: str, data_dir: str | os.PathLike | None = None, *, download: bool | None = None) -> Path:
    """Local, checksum-verified path of registered file *key*.

    The folder is ``data_dir``, else ``$XLMETA_DATA``, else the user cache (see module doc).
    ``download`` defaults to True only for the user cache; pass True to fill an explicit folder
    (what ``xlmeta data fetch --data-dir`` does).

    Raises:
        DataNotFoundError: missing and not downloadable; the message names the three remedies.
        ChecksumMismatchError: the bytes found or downloaded differ from the pinned sha256.
    """
    item = entry(key)
    folder, why = data_folder(data_dir)
    path = folder / item.relpath
    if path.is_file():
        return _check(item, path)
    if download is None:
        download = data_dir is None and not os.environ.get(ENV_DATA)
    if not download:
        raise DataNotFoundError(f"{item.relpath} ({key}) is not in {folder} ({why}).\n{how_to_provide(item)}")
    return _download(item, folder)


@dataclass(frozen=True)
class FileStatus:
    """One row of :func:`verify`: ``ok`` is True only for a present file with the pinned sha256."""

    key: str
    path: Path
    sha256: str | None
    ok: bool
    problem: str = ""


def verify(data_dir: str | os.PathLike | None = None) -> list[FileStatus]:
    """Check every registered file in the chosen folder without downloading anything."""
    folder, _ = data_folder(data_dir)
    rows = []
    for item in REGISTRY.values():
        path = folder / item.relpath
        if not path.is_file():
            rows.append(FileStatus(item.key, path, None, False, "missing"))
            continue
        actual = sha256_of(path)
        ok = actual == item.sha256
        rows.append(
            FileStatus(item.key, path, actual, ok, "" if ok else f"sha256 mismatch, expected {item.sha256}")
        )
    return rows


def resolve_all(keys: Iterable[str] | None = None, data_dir: str | os.PathLike | None = None) -> Path:
    """Resolve every file of ``keys`` (default: the whole registry) by the rules above; return their folder.

    What the workbook and the tests check before they start, so a missing file stops them at once rather than
    an hour in. Downloads into the user cache when that is the folder; after the first download that fails
    (offline), the rest are not attempted, so an offline machine gets its answer in seconds.

    Raises:
        DataNotFoundError: naming every missing file and the three ways to provide them.
        ChecksumMismatchError: a file found has other bytes than the pinned ones.
    """
    keys = list(REGISTRY if keys is None else keys)
    folder, why = data_folder(data_dir)
    download: bool | None = None
    missing = []
    for key in keys:
        try:
            resolve(key, data_dir, download=download)
        except DataNotFoundError:
            missing.append(entry(key))
            download = False
    if missing:
        listed = "\n".join(f"  {item.relpath}  ({item.url})" for item in missing)
        raise DataNotFoundError(
            f"{len(missing)} of {len(keys)} data files are not in {folder} ({why}):\n{listed}\n"
            "Provide them in one of three ways:\n"
            "  1. pass a folder laid out like the mirror (--data-dir DIR, or data_dir=... in Python);\n"
            f"  2. set {ENV_DATA}=/path/to/such a folder;\n"
            f"  3. go online once and run `xlmeta data fetch` to download them into the cache ({cache_dir()})."
        )
    return folder


# --------------------------------------------------------------------------------------------------
# More source languages for the transfer analysis (notebook 05): UD dev+test only, French stays the target.
# Commits and sha256s as in each treebank's PROVENANCE.md; the train splits (4 MiB or more) are not used.
# --------------------------------------------------------------------------------------------------

# name (file stem prefix) -> (folder, commit, license, {split: sha256}); zh GSD is in Traditional script
# fmt: off
_UD_ANALYSIS = {
    "de_gsd": ("UD_German-GSD", "297fcf350481058d0737a27f0f8fd03b2eadd67a", UD_LICENSE_4, {"dev": "00431f2624cbbf66796c097a9303bbc8f8e8ca88ef35c4c5664aa396b2d674c9", "test": "bceb8e867ba3ee7f1449d44fb31538d63a514f07e6763e7d9a5ffe794407bed4"}),
    "nl_alpino": ("UD_Dutch-Alpino", "95e374a608d114ec6c6b32f0fbd5f324d29ef286", UD_LICENSE_4, {"dev": "3d6ad878d8b7b362fd756da22ae230951233be1e5596743af772150c89ba346d", "test": "f5b5000fcbb6745d42f7cccf3986bb2550f9b56a171b0d4808fb45d2df7972a2"}),
    "ro_rrt": ("UD_Romanian-RRT", "cc00bf852bc3c19ac345457eef8b3e5665392a72", UD_LICENSE_4, {"dev": "6e940a2dfd3c1ded9859f2fa5c9b1edb687cd0b4b9d99c6496f7cc729b8742d9", "test": "9084ce9ae5f43d25ff39e66f42f3d2e41e85030891beccb1eb70fed444fbe3f4"}),
    "ru_gsd": ("UD_Russian-GSD", "5400f2fd7264b7699727bb61b09f53841899df26", UD_LICENSE_4, {"dev": "e3e3d4e8d1d7544e531b2b81ae64257efacc97f93276ce6d2ce52fd1de052fa2", "test": "f26e022329162a1c6306f76644d06f770f1572501755421165387137fe63138d"}),
    "fi_tdt": ("UD_Finnish-TDT", "5e3a88a671ea673fa330e10cc59f54da587a95a7", UD_LICENSE_4, {"dev": "f42cfdc427116b8152ee012541c2f99d95cbc734e629c4eb5c80e20dd67edc0c", "test": "3317528f16ab74333dce44051971e1ed0d115c8ffa1359a20f3bddb8e63498ee"}),
    "id_gsd": ("UD_Indonesian-GSD", "89491e4d51c15da157175c303213ae5ff6f05f9d", UD_LICENSE_4, {"dev": "56d4ab12267317d33511326da9fcd5b7eff641435c3b6365401937a33ce05e4b", "test": "155171c985bc04b12aa9dfa5704fa686a9fb8182cd2d1f42c3ede828e1502e70"}),
    "zh_gsd": ("UD_Chinese-GSD", "200dbe8acf60ff0d194f2d30bf925c410eee762a", UD_LICENSE_4, {"dev": "09374c8361400861a536ae94a1d7710e1cdd72285c32b9764d94d2d956b4ae02", "test": "ff01a3d01d62b623756396085e78bdaeefb7c2b7935a890dde5b18e92712d54f"}),
}
# fmt: on


def _analysis_treebank_files() -> dict[str, DataFile]:
    """Registry entries of :data:`_UD_ANALYSIS`, keyed and laid out as the seed's UD files are."""
    files = {}
    for name, (folder, commit, license_, splits) in _UD_ANALYSIS.items():
        for split, sha in splits.items():
            filename = f"{name}-ud-{split}.conllu"
            url = f"https://raw.githubusercontent.com/UniversalDependencies/{folder}/{commit}/{filename}"
            key = f"{name}-{split}"
            files[key] = DataFile(key, folder, filename, url, sha, license_, "ud", name[:2], split)
    return files


REGISTRY.update(_analysis_treebank_files())
