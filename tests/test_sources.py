"""Registry, resolution order, checksums, offline errors, and the `xlmeta data` commands."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pooch
import pytest
import requests

from xlmeta_lab.cli.data import add_data_commands
from xlmeta_lab.data import sources

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "fr_gsd-test"
#: The source treebanks of the transfer analysis, and the commit each is pinned to (their PROVENANCE.md).
ANALYSIS_TREEBANKS = {
    "de_gsd": ("UD_German-GSD", "297fcf350481058d0737a27f0f8fd03b2eadd67a"),
    "nl_alpino": ("UD_Dutch-Alpino", "95e374a608d114ec6c6b32f0fbd5f324d29ef286"),
    "ro_rrt": ("UD_Romanian-RRT", "cc00bf852bc3c19ac345457eef8b3e5665392a72"),
    "ru_gsd": ("UD_Russian-GSD", "5400f2fd7264b7699727bb61b09f53841899df26"),
    "fi_tdt": ("UD_Finnish-TDT", "5e3a88a671ea673fa330e10cc59f54da587a95a7"),
    "id_gsd": ("UD_Indonesian-GSD", "89491e4d51c15da157175c303213ae5ff6f05f9d"),
    "zh_gsd": ("UD_Chinese-GSD", "200dbe8acf60ff0d194f2d30bf925c410eee762a"),
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every download attempt fail as it would offline, and record the URLs tried."""
    tried: list[str] = []

    def offline(url: str, **kwargs: object) -> str:
        tried.append(url)
        raise requests.exceptions.ConnectionError(f"Failed to resolve host for {url}")

    monkeypatch.setattr(pooch, "retrieve", offline)
    return tried


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No XLMETA_DATA, and an empty private cache."""
    monkeypatch.delenv(sources.ENV_DATA, raising=False)
    monkeypatch.setenv(sources.ENV_CACHE, str(tmp_path / "cache"))
    return tmp_path / "cache"


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="xlmeta")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_registry_lists_every_pinned_file() -> None:
    ud = {k for k, e in sources.REGISTRY.items() if e.dataset == "ud"}
    assert ud == {
        "en_ewt-dev", "en_ewt-test", "es_gsd-dev", "es_gsd-test", "fr_gsd-dev", "fr_gsd-test",
        "en_pud-test", "es_pud-test", "fr_pud-test",
        *(f"{name}-{split}" for name in ANALYSIS_TREEBANKS for split in ("dev", "test")),
    }  # fmt: skip
    sib = [e for e in sources.REGISTRY.values() if e.dataset == "sib200"]
    assert len(sib) == 21 * 4  # train, dev, test and labels of the 21 languages in SIB-200/PROVENANCE.md
    fr_test = sources.REGISTRY["sib200-fra_Latn-test"]
    assert fr_test.relpath == "SIB-200/fra_Latn/test.tsv"
    assert fr_test.url == (
        "https://raw.githubusercontent.com/dadelani/sib-200/593cea88519930f776c1a4a1980b6a35b39dca57"
        "/data/annotated/fra_Latn/test.tsv"
    )
    gsd = sources.REGISTRY[KEY]
    assert gsd.url == (
        "https://raw.githubusercontent.com/UniversalDependencies/UD_French-GSD/"
        "830e2782304af08b3cc1c9250475343e04274d81/fr_gsd-ud-test.conllu"
    )
    assert sources.REGISTRY["en_pud-test"].license == "CC BY-SA 3.0"
    assert gsd.license == "CC BY-SA 4.0"


@pytest.mark.parametrize("name", list(ANALYSIS_TREEBANKS))
def test_analysis_treebanks_are_pinned_dev_and_test_only(name: str) -> None:
    folder, commit = ANALYSIS_TREEBANKS[name]
    for split in ("dev", "test"):
        item = sources.REGISTRY[f"{name}-{split}"]
        assert item.relpath == f"{folder}/{name}-ud-{split}.conllu"
        assert item.url == (
            f"https://raw.githubusercontent.com/UniversalDependencies/{folder}/{commit}/{name}-ud-{split}.conllu"
        )
        assert item.license == "CC BY-SA 4.0" and len(item.sha256) == 64 and item.lang == name[:2]
    assert f"{name}-train" not in sources.REGISTRY


def test_unknown_key_lists_known_keys() -> None:
    with pytest.raises(KeyError, match="fr_gsd-test"):
        sources.resolve("fr_gsd-train")


@pytest.mark.parametrize("key", list(sources.REGISTRY))
def test_every_entry_resolves_from_the_mirror(key: str, data_dir: Path, no_network: list[str]) -> None:
    path = sources.resolve(key, data_dir)
    assert path == data_dir / sources.REGISTRY[key].relpath
    assert sources.sha256_of(path) == sources.REGISTRY[key].sha256
    assert no_network == []


def test_env_var_is_used_and_explicit_folder_wins(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.setenv(sources.ENV_DATA, str(data_dir))
    assert sources.resolve(KEY) == data_dir / "UD_French-GSD" / "fr_gsd-ud-test.conllu"
    other = tmp_path / "copy"
    (other / "UD_French-GSD").mkdir(parents=True)
    shutil.copy(data_dir / "UD_French-GSD" / "fr_gsd-ud-test.conllu", other / "UD_French-GSD")
    assert sources.resolve(KEY, other) == other / "UD_French-GSD" / "fr_gsd-ud-test.conllu"


def test_missing_in_explicit_folder_is_an_error_not_a_download(tmp_path: Path, no_network: list[str]) -> None:
    with pytest.raises(sources.DataNotFoundError, match="fr_gsd-ud-test.conllu") as err:
        sources.resolve(KEY, tmp_path)
    assert "given as data_dir" in str(err.value)
    assert no_network == []


def test_offline_and_missing_names_the_file_and_three_remedies(
    clean_env: Path, no_network: list[str]
) -> None:
    with pytest.raises(sources.DataNotFoundError) as err:
        sources.resolve(KEY)
    message = str(err.value)
    assert no_network == [sources.REGISTRY[KEY].url]
    for needle in ("UD_French-GSD/fr_gsd-ud-test.conllu", "--data-dir", "XLMETA_DATA=", "xlmeta data fetch"):
        assert needle in message
    assert "ConnectionError" in message


def mirror_downloader(data_dir: Path, corrupt: bool = False):
    """A pooch downloader that 'downloads' from the mirror, so pooch's own hash check runs offline."""

    def download(url: str, output_file: str, pooch_instance: object) -> None:
        item = next(e for e in sources.REGISTRY.values() if e.url == url)
        data = (data_dir / item.relpath).read_bytes()
        Path(output_file).write_bytes(data + b"x" if corrupt else data)

    return download


@pytest.mark.parametrize("corrupt", [False, True])
def test_download_goes_to_the_cache_and_is_checked(
    data_dir: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch, corrupt: bool
) -> None:
    real_retrieve = pooch.retrieve
    monkeypatch.setattr(
        pooch,
        "retrieve",
        lambda url, **kw: real_retrieve(url, downloader=mirror_downloader(data_dir, corrupt), **kw),
    )
    if corrupt:
        with pytest.raises(sources.ChecksumMismatchError):
            sources.resolve(KEY)
    else:
        assert sources.resolve(KEY) == clean_env / "UD_French-GSD" / "fr_gsd-ud-test.conllu"


def test_checksum_mismatch_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "UD_French-GSD" / "fr_gsd-ud-test.conllu"
    target.parent.mkdir()
    shutil.copy(data_dir / "UD_French-GSD" / "fr_gsd-ud-test.conllu", target)
    assert sources.resolve(KEY, tmp_path) == target
    with target.open("ab") as handle:  # corrupt after a successful (memoised) check
        handle.write(b"# extra\n")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(sources.ChecksumMismatchError, match="sha256"):
        sources.resolve(KEY, tmp_path)


def test_verify_reports_each_file(data_dir: Path, tmp_path: Path) -> None:
    rows = sources.verify(data_dir)
    assert len(rows) == len(sources.REGISTRY) and all(r.ok for r in rows)
    bad = tmp_path / "SIB-200" / "fra_Latn" / "labels.txt"
    bad.parent.mkdir(parents=True)
    bad.write_text("travel\n")
    by_key = {r.key: r for r in sources.verify(tmp_path)}
    assert not by_key["sib200-fra_Latn-labels"].ok and by_key["sib200-fra_Latn-labels"].sha256
    assert not by_key[KEY].ok and by_key[KEY].sha256 is None


def test_require_folder_explains_setup(tmp_path: Path) -> None:
    with pytest.raises(sources.DataNotFoundError, match="XLMETA_DATA"):
        sources.require_folder(tmp_path / "nowhere")


def test_cli_list_verify_fetch(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network: list[str]
) -> None:
    assert run_cli("data", "list") == 0
    assert sources.REGISTRY[KEY].url in capsys.readouterr().out
    assert run_cli("data", "verify", "--data-dir", str(data_dir)) == 0
    out = capsys.readouterr().out
    assert f"{len(sources.REGISTRY)}/{len(sources.REGISTRY)} files OK" in out
    assert sources.REGISTRY[KEY].sha256 in out
    assert run_cli("data", "verify", "--data-dir", str(tmp_path)) == 1
    assert "MISSING" in capsys.readouterr().out
    assert run_cli("data", "fetch", "--data-dir", str(data_dir)) == 0
    assert run_cli("data", "fetch", "--data-dir", str(tmp_path)) == 1
    assert "xlmeta data fetch" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("good.conllu", "2 sentences, 11 words"),
        ("good.tsv", "2 sentences"),
        ("labels.txt", "7 labels"),
        ("bad_upos.conllu", "bad_upos.conllu:9: unknown UPOS 'NOUNS'"),
        ("bad.tsv", "bad.tsv:3: expected 3 tab-separated columns"),
    ],
)
def test_cli_inspect(name: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli("data", "inspect", str(FIXTURES / name))
    assert expected in capsys.readouterr().out
    assert code == (1 if name.startswith("bad") else 0)
