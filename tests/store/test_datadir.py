"""The data dir is private: created 0700, tightened, refused when others may write."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from homeport.store.datadir import DataDirError, secure_data_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_private(tmp_path: Path) -> None:
    data = tmp_path / "a" / "data"
    secure_data_dir(data)
    assert _mode(data) == 0o700


def test_loose_modes_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "secrets").mkdir(parents=True)
    (data / "homeport.db").write_text("")
    (data / "homeport.db").chmod(0o644)
    (data / "secrets").chmod(0o755)
    data.chmod(0o755)
    secure_data_dir(data)
    assert _mode(data) == 0o700
    assert _mode(data / "homeport.db") == 0o600
    assert _mode(data / "secrets") == 0o700


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o777])
def test_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(mode)
    with pytest.raises(DataDirError, match="chmod 700"):
        secure_data_dir(data)
    assert _mode(data) == mode  # refused, not silently changed
