"""Restore crash states: the sibling directories a restore leaves, and putting them right."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from homeport.domain.backup_archive.filesystem import fsync_dir, remove_tree


def sibling(target: Path, kind: str) -> Path:
    return target.parent / f"{target.name}.{kind}-{secrets.token_hex(8)}"


def _leftover_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(re.escape(target.name) + r"\.(restore|old)-[0-9a-f]{16}")


def recover_interrupted(target_dir: Path) -> list[str]:
    """Undo what an interrupted :func:`restore_archive` left beside ``target_dir``.

    Returns a description of each action (empty when there was nothing to do), suitable
    for a log. See the module docstring for the states this handles.
    """
    target = Path(target_dir)
    parent = target.parent
    if not parent.is_dir():
        return []
    pattern = _leftover_pattern(target)
    restores: list[Path] = []
    olds: list[Path] = []
    with os.scandir(parent) as it:
        for entry in it:
            match = pattern.fullmatch(entry.name)
            if match and entry.is_dir(follow_symlinks=False):
                (restores if match.group(1) == "restore" else olds).append(Path(entry.path))
    actions: list[str] = []
    if olds and not os.path.lexists(target):
        # Killed between the two renames: the old data goes back. With several (only
        # possible if recovery itself was skipped), the most recently moved one wins.
        olds.sort(key=lambda p: p.lstat().st_ctime_ns)
        keep = olds.pop()
        os.rename(keep, target)
        actions.append(
            f"put the previous data back in {target.name} from {keep.name} "
            "(a restore was interrupted during its swap)"
        )
    for path in restores:
        remove_tree(path)
        actions.append(f"removed {path.name}, left by an interrupted restore")
    for path in olds:
        remove_tree(path)
        actions.append(f"removed {path.name}, the data a finished restore had replaced")
    if actions:
        fsync_dir(parent)
    return actions
