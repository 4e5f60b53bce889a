"""The run folder's manifest (`manifest.json`): per stage, its key, the inputs the key hashes, the size and
hash of each file it wrote and what it found; rewritten atomically after each stage's outputs, so a build
killed mid-stage leaves that stage unrecorded (and redone next time), never trusted half-written.

`Manifest.decide` says whether a planned stage can be reused, and if not, why, in the user's terms: the
recipe keys that changed (with old and new values), the stage upstream whose outputs changed, a library
or edgecnn itself, another machine, a file missing or changed since it was written.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgecnn.fileio import file_sha256, write_json
from edgecnn.incremental.keys import StagePlan, digest
from edgecnn.run import RunFolder

MANIFEST_SCHEMA = 2
RUN_ROOT = "$RUN"  # stands for the run folder in recorded paths, so records survive a moved folder or the cache



class Manifest:
    """`persist=False` (verifying a run folder from outside its build) keeps what stages record in memory: the
    folder is read, never written."""

    def __init__(self, root: Path, persist: bool = True):
        self.root = Path(root)
        self.persist = persist
        self.path = RunFolder(self.root).manifest_path
        self.entries: dict[str, dict] = self._read()
        self.tokens: dict[str, str] = {}  # this build's token per finished stage
        self.reasons: dict[str, str] = {}  # why each stage that ran this build ran

    def _read(self) -> dict[str, dict]:
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or damaged: nothing is trusted, everything is redone
            return {}
        if not isinstance(stored, dict) or stored.get("schema") != MANIFEST_SCHEMA:
            return {}
        return stored.get("stages") or {}

    def decide(self, plan: StagePlan, forced: bool) -> str | None:
        """None when the stage can be reused as recorded; otherwise why it must run."""
        entry = self.entries.get(plan.id)
        if forced:
            return "--force"
        if entry is None:
            return "not built in this folder before"
        if entry.get("key") != plan.key:
            return self._changed(entry.get("inputs") or {}, plan.inputs)
        return self.damaged(entry)

    def damaged(self, entry: dict) -> str | None:
        """Why a recorded stage's files cannot be trusted (missing, or not the bytes written), or None."""
        found = self.damaged_file(entry)
        return None if found is None else f"{found[0]} {'is missing' if found[1] == 'missing' else found[1]}"

    def damaged_file(self, entry: dict) -> tuple[str, str] | None:
        """(file name, "missing" or "changed since it was written") of a recorded stage's first bad file."""
        for name, expected in entry.get("outputs", {}).items():
            path = self.root / name
            if not path.is_file():
                return name, "missing"
            if path.stat().st_size != expected["size"] or file_sha256(path) != expected["sha256"]:
                return name, "changed since it was written"
        return None

    def _changed(self, old: dict, new: dict) -> str:
        before, after = _flatten(old), _flatten(new)
        changed = [key for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)]
        own = [key for key in changed if not key.startswith("upstream.")]
        # A stage that reads a changed key itself says so; its upstream stages changed for the same reason.
        said = list(dict.fromkeys(self._say(key, before.get(key), after.get(key)) for key in own or changed))
        said = [text for i, text in enumerate(said) if not any(_same_cause(text, earlier) for earlier in said[:i])]
        return "; ".join(said[:3]) + (f" (+{len(said) - 3} more)" if len(said) > 3 else "")

    def _say(self, key: str, old, new) -> str:
        section, _, rest = key.partition(".")
        if section == "upstream":
            why = self.reasons.get(rest)
            return f"{rest} changed" + (f" ({why})" if why else " (new outputs)")
        if section == "recipe":
            return f"{rest} {_list_change(old, new) or f'{_short(old)} -> {_short(new)}'}"
        if section == "libraries":
            return f"{rest} {old or 'absent'} -> {new or 'absent'}"
        if section == "source":
            return "the data's files changed"
        if section == "edgecnn":
            return f"edgecnn changed ({old} -> {new})"
        if section == "machine":
            return f"another machine ({rest}: {_short(old)} -> {_short(new)})"
        return f"{key} changed"

    def reuse(self, plan: StagePlan) -> dict:
        entry = self.entries[plan.id]
        self.tokens[plan.id] = _token(entry)
        return entry

    def record(self, plan: StagePlan, files: list[Path], record: dict, seconds: float,
               products: list[str] | None = None) -> dict:
        """Note a stage that ran (or came from the cache): its files' sizes and hashes, its record, and which
        of its files later stages read (`products`, default all: what their keys cover); then rewrite the
        manifest atomically."""
        outputs = {}
        for path in files:
            path = Path(path)
            outputs[path.relative_to(self.root).as_posix()] = {"size": path.stat().st_size,
                                                               "sha256": file_sha256(path)}
        entry = {"key": plan.key, "inputs": plan.inputs, "outputs": outputs, "record": portable(record, self.root),
                 "seconds": round(seconds, 2), "products": sorted(outputs if products is None else products)}
        self.entries[plan.id] = entry
        self.tokens[plan.id] = _token(entry)
        if self.persist:
            write_json(self.path, {"schema": MANIFEST_SCHEMA, "stages": self.entries})
        return entry

    def record_of(self, stage: str):
        """What a finished stage found (a verification row, the data summary), with this folder's paths."""
        return local(self.entries[stage]["record"], self.root)


def _token(entry: dict) -> str:
    """What downstream stages key on: the stage's key and the bytes of the files they read (not, say, an
    `.ort` copy, which onnxruntime's converter writes differently each time, or the training curves)."""
    outputs = entry["outputs"]
    return digest({"key": entry["key"], "outputs": {name: outputs[name]["sha256"] for name in entry["products"]}})


def _same_cause(text: str, earlier: str) -> bool:
    """Two upstream stages that changed for one reason (`export:x changed (train.epochs 4 -> 3)` and
    `train changed (train.epochs 4 -> 3)`): said once."""
    return text.endswith(")") and "(" in text and text[text.index("("):] == earlier[earlier.find("("):]


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict) and value:
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: json.dumps(value, sort_keys=True)}


def _list_change(old, new) -> str | None:
    """`+ptq_int8 -onnx_qdq_int8` for two lists (as JSON) with items added or removed; None otherwise."""
    try:
        before, after = json.loads(old), json.loads(new)
    except (TypeError, ValueError):
        return None
    if not (isinstance(before, list) and isinstance(after, list)) or sorted(map(str, before)) == sorted(map(str, after)):
        return None
    return " ".join([*(f"+{item}" for item in after if item not in before),
                     *(f"-{item}" for item in before if item not in after)])


def _short(text) -> str:
    text = "absent" if text is None else str(text)
    return text if len(text) <= 40 else text[:37] + "..."


def portable(value, root: Path):
    """`value` with paths inside `root` written relative to `$RUN`."""
    prefix = str(root) + "/"
    if isinstance(value, dict):
        return {key: portable(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, root) for item in value]
    if isinstance(value, str) and value.startswith(prefix):
        return RUN_ROOT + "/" + value[len(prefix):]
    return value


def local(value, root: Path):
    """The inverse of `portable`, for the run folder at `root`."""
    if isinstance(value, dict):
        return {key: local(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [local(item, root) for item in value]
    if isinstance(value, str) and value.startswith(RUN_ROOT + "/"):
        return str(root / value[len(RUN_ROOT) + 1:])
    return value
