"""A shared cache of finished stages across run folders: `--cache DIR` or the EDGECNN_CACHE variable.

    DIR/v1/KIND/KEY/entry.json    the stage's record and its files' sizes and hashes
    DIR/v1/KIND/KEY/files/...     its files, at their run-folder paths

An entry is keyed exactly as the manifest keys the stage, so a recipe that differs from another only in
what a stage does not read (its verify budgets, its optimized variants) gets that stage's files copied
instead of recomputed. Copies, not links: a run folder's files stay its own. Entries are written whole
(into a scratch folder, then renamed), checked against their hashes when taken (a damaged entry is
dropped, never used) and evicted least recently used beyond the size limit (EDGECNN_CACHE_SIZE, e.g.
`500MB`; default 2GB).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from edgecnn.errors import RecipeError
from edgecnn.fileio import atomic_path, file_sha256, staging_folder
from edgecnn.incremental.keys import StagePlan

CACHE_ENV, CACHE_SIZE_ENV = "EDGECNN_CACHE", "EDGECNN_CACHE_SIZE"
DEFAULT_CACHE_BYTES = 2 * 1024**3
LAYOUT = "v1"
ENTRY_FILE, FILES_DIR = "entry.json", "files"


@dataclass
class CachedStage:
    kind: str
    stage: str
    key: str
    recipe: str
    bytes: int
    created: float
    used: float
    folder: Path


def cache_size_limit(text: str | None) -> int:
    """`EDGECNN_CACHE_SIZE` (`500MB`, `2GB`, bytes) -> bytes."""
    if not text:
        return DEFAULT_CACHE_BYTES
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", text.strip().upper())
    if not match:
        raise RecipeError(f"{CACHE_SIZE_ENV}={text!r}: expected a size such as 500MB or 2GB")
    return int(float(match.group(1)) * 1024 ** " KMGT".index(match.group(2) or " "))


class StageCache:
    def __init__(self, root: Path, max_bytes: int | None = None):
        self.root = Path(root).expanduser()
        self.max_bytes = max_bytes if max_bytes is not None else cache_size_limit(os.environ.get(CACHE_SIZE_ENV))
        if self.root.exists() and not self.root.is_dir():
            raise RecipeError(f"--cache {self.root}: exists and is not a folder")

    @classmethod
    def chosen(cls, option: Path | None) -> StageCache | None:
        """The cache named by `--cache`, else by EDGECNN_CACHE, else none."""
        where = option or os.environ.get(CACHE_ENV)
        return cls(Path(where)) if where else None

    def _folder(self, plan_id: str, key: str) -> Path:
        kind, _, name = plan_id.partition(":")
        return self.root / LAYOUT / kind / f"{name + '-' if name else ''}{key}"

    def restore(self, plan: StagePlan, run_root: Path) -> dict | None:
        """Copy the cached files of `plan` into the run folder and return the entry, or None on a miss.
        Every file is checked against its recorded hash first; a damaged entry is removed."""
        folder = self._folder(plan.id, plan.key)
        try:
            entry = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        outputs = entry.get("outputs", {})
        try:
            if entry.get("key") != plan.key or any(not _intact(folder / FILES_DIR / name, o)
                                                   for name, o in outputs.items()):
                shutil.rmtree(folder, ignore_errors=True)
                return None
            for name in outputs:
                target = Path(run_root) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(target) as staged:
                    shutil.copyfile(folder / FILES_DIR / name, staged)
            os.utime(folder / ENTRY_FILE)  # last use, for eviction
        except FileNotFoundError:  # another build evicted or dropped the entry meanwhile: a miss, not a failure
            return None
        return entry

    def store(self, plan: StagePlan, run_root: Path, entry: dict, recipe_name: str) -> None:
        """Keep a finished stage's files and record (a no-op when the key is cached already)."""
        folder = self._folder(plan.id, plan.key)
        if (folder / ENTRY_FILE).is_file():
            return
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(folder.parent, ".staging-")
        try:
            for name in entry["outputs"]:
                (staging / FILES_DIR / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(run_root) / name, staging / FILES_DIR / name)
            record = {**entry, "stage": plan.id, "recipe": recipe_name, "created": time.time()}
            (staging / ENTRY_FILE).write_text(json.dumps(record), encoding="utf-8")
            os.rename(staging, folder)
        except OSError:  # another build stored it first, or the disk is full: the cache is only a saving
            shutil.rmtree(staging, ignore_errors=True)
            return
        self.trim()

    def entries(self) -> list[CachedStage]:
        found = []
        for entry_file in sorted((self.root / LAYOUT).glob(f"*/*/{ENTRY_FILE}")):
            if entry_file.parent.name.startswith("."):  # being written
                continue
            try:
                entry = json.loads(entry_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            folder = entry_file.parent
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            found.append(CachedStage(folder.parent.name, entry.get("stage", "?"), entry.get("key", "?"),
                                     entry.get("recipe", "?"), size, entry.get("created", 0.0),
                                     entry_file.stat().st_mtime, folder))
        return found

    def trim(self) -> list[CachedStage]:
        """Evict least recently used entries until the cache fits its size limit; returns the evicted."""
        for staging in (self.root / LAYOUT).glob("*/.staging-*"):  # left by a killed build
            if time.time() - staging.stat().st_mtime > 3600:
                shutil.rmtree(staging, ignore_errors=True)
        entries = sorted(self.entries(), key=lambda e: e.used)
        total, evicted = sum(e.bytes for e in entries), []
        while entries and total > self.max_bytes:
            oldest = entries.pop(0)
            shutil.rmtree(oldest.folder, ignore_errors=True)
            total -= oldest.bytes
            evicted.append(oldest)
        return evicted

    def clear(self) -> tuple[int, int]:
        """Remove every entry; returns (entries, bytes) freed."""
        entries = self.entries()
        shutil.rmtree(self.root / LAYOUT, ignore_errors=True)
        return len(entries), sum(e.bytes for e in entries)


def _intact(path: Path, expected: dict) -> bool:
    return path.is_file() and path.stat().st_size == expected["size"] and file_sha256(path) == expected["sha256"]
