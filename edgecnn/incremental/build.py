"""A build that redoes only what changed: every stage of a recipe (data, train, export, optimize, verify,
inspect, report) is reused from the run folder, or copied from the shared cache, when its key is unchanged
and its files are intact; otherwise it runs, and the terminal and report.json say why."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rich.markup import escape

from edgecnn.artifacts import open_artifact
from edgecnn.console import console
from edgecnn.data import Dataset, load_dataset
from edgecnn.errors import RecipeError, VerificationError, raise_if_stop_requested
from edgecnn.export import EXPORT_FORMATS, calibration_set, conversion_errors, export_one, written_files
from edgecnn.export.pixels import FileInput
from edgecnn.formats import ALL_ARTIFACTS, OPTIMIZE_VARIANTS
from edgecnn.incremental.cache import StageCache
from edgecnn.incremental.keys import (
    STAGE_KINDS, StagePlan, artifact_plan, data_plan, inspect_plan, report_plan, train_plan, verify_plan,
)
from edgecnn.incremental.manifest import Manifest, local
from edgecnn.mcu import require_mcu_tools
from edgecnn.optimize.variants import MAKERS, Job
from edgecnn.pipeline import KERAS_ROW, data_warnings, run_anatomy, verified_names, verify_in_run
from edgecnn.recipe import Recipe
from edgecnn.report import write_report
from edgecnn.run import CONFUSION_PNG, JUNIT_XML, REPORT_JSON, REPORT_MD, RunFolder
from edgecnn.runlock import prepare_folder
from edgecnn.train import train_model
from edgecnn.verify import MCU_DIR
from edgecnn.verify.app import add_app_results, app_frames_for
from edgecnn.verify.judge import build_report
from edgecnn.verify.mcu import mcu_files
from edgecnn.verify.record import (
    Anatomy, ArtifactResult, BuildReport, DataSummary, Pictures, StageDecision, Timings,
)


@dataclass
class Materials:
    """What running stages need, each loaded on first use: a build that reuses every stage never reads
    the images, loads the model or imports TensorFlow."""

    recipe: Recipe
    run: RunFolder
    show_progress: bool
    on_epoch: object = None  # called after each training epoch with (epoch, logs)
    trained: object = None  # the model the train stage just fitted, when it ran
    mcu_folder: Path | None = None  # where Vela writes its per-layer CSVs and compiled files

    @cached_property
    def dataset(self) -> Dataset:
        return load_dataset(self.recipe.data, self.recipe.seed)

    @cached_property
    def model(self):
        return self.trained or self.run.load_model()

    @cached_property
    def reference(self):
        return self.run.load_reference(self.dataset.test_fingerprint())

    @cached_property
    def app_frames(self):
        return app_frames_for(self.recipe.verify, self.recipe.data, self.dataset, self.recipe.seed)

    @cached_property
    def file_input(self) -> FileInput:
        return FileInput.for_recipe(self.recipe, self.dataset.contract)

    @cached_property
    def calibration(self):
        return calibration_set(self.dataset, self.recipe.export.calibration, self.recipe.seed)

    @cached_property
    def job(self) -> Job:
        calibrated = any(OPTIMIZE_VARIANTS[name].needs_calibration for name in self.recipe.optimize.variants)
        return Job(self.model, self.recipe, self.dataset, self.calibration if calibrated else None, self.show_progress)


def _products(plan: StagePlan) -> list[str] | None:
    """The files of a stage that later stages read (None: all of them)."""
    if plan.kind == "train":  # the model and its reference outputs; not the history or curves
        relative = RunFolder(Path())
        return [relative.model_path.as_posix(), relative.reference_path.as_posix()]
    return [plan.artifact.filename] if plan.kind in ("export", "optimize") else None


def _run_data(materials: Materials, plan: StagePlan):
    dataset, run = materials.dataset, materials.run
    if materials.show_progress:
        for warning in data_warnings(materials.recipe, dataset):
            console().print(f"[yellow]warning:[/] {escape(warning)}")
    return [run.save_splits(dataset), run.save_labels(dataset.class_names)], {"summary": dataset.summary()}


def _run_train(materials: Materials, plan: StagePlan):
    dataset, run = materials.dataset, materials.run
    result = train_model(materials.recipe, dataset, run.root, show_progress=materials.show_progress,
                         on_epoch=materials.on_epoch)
    materials.trained = result.model
    record = {"best_epoch": result.best_epoch, "seconds": round(result.seconds, 2),
              "float_accuracy": float((materials.reference.argmax(1) == dataset.y_test).mean())}
    return [run.model_path, run.history_path, run.curves_path, run.reference_path], record


def _run_artifact(materials: Materials, plan: StagePlan):
    fmt, recipe = plan.artifact, materials.recipe
    path = materials.run.artifact(fmt.filename)
    if fmt.is_variant:
        with conversion_errors(fmt, path):
            MAKERS[fmt.maker](materials.job, fmt, path)
    else:
        calibration = materials.calibration if fmt.needs_calibration else None
        export_one(fmt, materials.model, recipe, materials.file_input, calibration, path)
    return written_files(fmt, recipe, materials.run.root), {}


def _run_verify(materials: Materials, plan: StagePlan):
    run, fmt = materials.run, plan.artifact
    path, precision = (run.model_path, "float32") if fmt is None else (run.artifact(fmt.filename), fmt.precision)
    # The Keras row uses the model this process just trained, if it did: the same weights as model.keras.
    artifact = open_artifact(path, materials.trained if fmt is None else None)
    result = verify_in_run(artifact, plan.name, precision, materials.dataset, materials.reference,
                           materials.recipe.verify, show_progress=False,  # the stage's line names it
                           mcu_folder=materials.mcu_folder)
    add_app_results([(artifact, result)], materials.app_frames)
    return mcu_files(result), result.to_dict()  # the manifest's record: the report row as report.json holds it


def _run_inspect(materials: Materials, plan: StagePlan):
    run = materials.run
    float_file = open_artifact(run.artifact(EXPORT_FORMATS["tflite_float32"].filename))
    record = run_anatomy(run, materials.dataset, float_file)
    return _pictures_inside(Anatomy.from_dict(record).pictures, run.inspect_dir), record


def _pictures_inside(pictures: Pictures | None, folder: Path) -> list[Path]:
    """The pictures the inspect stage drew under `folder` (not the training curves beside it)."""
    if pictures is None:
        return []
    named = [pictures.kernels, *pictures.feature_maps, pictures.strongest, pictures.test_image,
             pictures.training_curves]
    return [Path(path) for path in named if path and Path(path).is_relative_to(folder)]


def _require_tools(recipe: Recipe) -> None:
    """The microcontroller tools the recipe's settings need, checked before training rather than after it."""
    verify = recipe.verify
    tflm_for = ("export.formats tflite_mcu_int8" if "tflite_mcu_int8" in recipe.export.formats
                else "verify.mcu_check: always" if verify.mcu_check == "always"
                else "verify.budgets.max_arena_kib/max_flash_kib" if verify.mcu_budgets() else None)
    require_mcu_tools(tflm_for, "verify.npu" if verify.npu else None)


def _decision(plan: StagePlan, action: str, reason: str) -> StageDecision:
    return StageDecision(stage=plan.id, action=action, reason=reason, key=plan.key, seconds=0.0)


@dataclass
class StageBook:
    """Decides, runs and records each stage of one build, and keeps what it did."""

    manifest: Manifest
    cache: StageCache | None
    force: set[str]
    recipe_name: str
    show_progress: bool
    decisions: list[StageDecision] = field(default_factory=list)

    def do(self, plan: StagePlan, runner, materials: Materials) -> None:
        raise_if_stop_requested()  # a Ctrl-C or SIGTERM dropped in a __del__ during the stage before
        forced = bool(self.force & {"all", plan.kind, plan.id})
        reason = self.manifest.decide(plan, forced)
        if reason is None:
            self.manifest.reuse(plan)
            self.note(_decision(plan, "reused", "same inputs, files intact"))
            return
        self.manifest.reasons[plan.id] = reason
        root = self.manifest.root
        cached = None if forced or self.cache is None else self.cache.restore(plan, root)
        if cached is not None:
            self.manifest.record(plan, [root / name for name in cached["outputs"]], local(cached["record"], root),
                                 cached.get("seconds", 0.0), _products(plan))
            self.note(_decision(plan, "cached", f"{reason}; copied from the cache"))
            return
        decision = self.note(_decision(plan, "run", reason))
        start = time.perf_counter()
        files, record = runner(materials, plan)
        decision.seconds = round(time.perf_counter() - start, 2)
        entry = self.manifest.record(plan, files, record, decision.seconds, _products(plan))
        if self.cache is not None:
            self.cache.store(plan, root, entry, self.recipe_name)

    def take(self, plan: StagePlan) -> None:
        """A stage this command does not redo (`export` takes the trained model as it is): reused as the folder
        holds it, whatever its key; an error naming the command that writes it when it is missing or damaged."""
        entry = self.manifest.entries.get(plan.id)
        root, command = self.manifest.root, _WRITTEN_BY[plan.kind]
        if entry is None:
            raise VerificationError(f"{root}: no {plan.id} here; run `edgecnn {command} {root}` first")
        damaged = self.manifest.damaged_file(entry)
        if damaged is not None:
            name, problem = damaged
            raise VerificationError(f"{root / name}: {problem}; run `edgecnn {command} {root}` to write it")
        self.manifest.reuse(plan)
        self.note(_decision(plan, "reused", "as this folder holds it (not a stage of this command)"))

    def note(self, decision: StageDecision) -> StageDecision:
        self.decisions.append(decision)
        if self.show_progress:
            style = {"run": "yellow", "reused": "green", "cached": "cyan"}[decision.action]
            console().print(f"[{style}]{decision.action:<6}[/] {decision.stage:<26} {escape(decision.reason)}")
        return decision

    def seconds(self, kind: str) -> float:
        return round(sum(d.seconds for d in self.decisions if d.stage.split(":")[0] == kind), 2)


def check_force(force: list[str] | None) -> set[str]:
    """`--force` values: all, a stage kind, or KIND:ARTIFACT."""
    chosen = set(force or [])
    for value in chosen:
        kind, _, name = value.partition(":")
        known = value == "all" or (kind in STAGE_KINDS and (not name or name in ALL_ARTIFACTS or name == KERAS_ROW))
        if not known:
            raise RecipeError(f"--force {value}: expected all, a stage ({', '.join(STAGE_KINDS)}) or STAGE:ARTIFACT, "
                              "e.g. optimize:qat_int8")
    return chosen


# The command that writes each kind of stage, for the error when a command needs one that is not there.
_WRITTEN_BY = {"data": "train", "train": "train", "export": "export", "optimize": "optimize", "verify": "verify",
               "inspect": "build", "report": "build"}


def build(recipe: Recipe, out_dir: Path, show_progress: bool = True, force: list[str] | None = None,
          cache: StageCache | None = None, on_epoch=None, stages=STAGE_KINDS,
          persist: bool = True, mcu_folder: Path | None = None) -> BuildReport | None:
    """The stages of kinds `stages` (default every one) into `out_dir`, each redone only when what it reads
    changed (or `force` names it); a stage of another kind upstream of those is taken as the folder holds it, one
    downstream of them is left alone. Every command runs
    this: `build` all, `train` data and train, `export` export, `optimize` optimize to report, `verify` verify.
    `persist=False` writes nothing into the folder (the report is returned, not written; Vela's files go to
    `mcu_folder`, by default the run folder's `mcu/`). `on_epoch(epoch,
    logs)` follows training, when it runs. Returns the report, or None when no stage judges (train, export)."""
    start = time.perf_counter()
    _require_tools(recipe)
    out_dir = prepare_folder(out_dir) if persist else Path(out_dir)
    run = RunFolder(out_dir)
    materials = Materials(recipe, run, show_progress, on_epoch, mcu_folder=mcu_folder or run.root / MCU_DIR)
    manifest = Manifest(out_dir, persist)
    book = StageBook(manifest, cache if persist else None, check_force(force), recipe.name, show_progress)
    tokens = manifest.tokens

    last = max(STAGE_KINDS.index(kind) for kind in stages)

    def step(plan: StagePlan, runner) -> None:
        if plan.kind in stages:
            book.do(plan, runner, materials)
        elif STAGE_KINDS.index(plan.kind) < last:  # upstream of a stage this command runs
            book.take(plan)

    step(data_plan(recipe), _run_data)  # bad data fails here, before anything is written
    if persist:
        run.save_recipe(recipe)
    step(train_plan(recipe, tokens), _run_train)
    for name in [*recipe.export.formats, *recipe.optimize.variants]:
        step(artifact_plan(recipe, ALL_ARTIFACTS[name], tokens), _run_artifact)
    if "verify" not in stages:
        return None
    verified = verified_names(recipe)
    for name in verified:
        step(verify_plan(recipe, name, tokens), _run_verify)
    judged = [f"verify:{name}" for name in verified]
    if "inspect" in stages and "tflite_float32" in recipe.export.formats:
        step(inspect_plan(tokens), _run_inspect)
        judged.append("inspect")
    return _report(recipe, run, book, judged, start, write=persist and "report" in stages)


def _report(recipe: Recipe, run: RunFolder, book: StageBook, judged: list[str], start: float,
            write: bool) -> BuildReport:
    """Judge the measurements (budgets, best pick) and, with `write`, write the report into the run folder: every
    build, since it records that build's stages and times; cheap, since every measurement it judges is recorded."""
    manifest = book.manifest
    plan = report_plan(recipe, manifest.tokens, tuple(judged))
    changed = manifest.decide(plan, False)
    decision = book.note(_decision(plan, "run", "every build" + (f": {changed}" if changed else
                                                                ": nothing it judges changed")))
    mark = time.perf_counter()
    results = [ArtifactResult.from_dict(manifest.record_of(stage)) for stage in judged if stage != "inspect"]
    timings = Timings(data=book.seconds("data"), train=book.seconds("train"), export=book.seconds("export"))
    if recipe.optimize.variants:
        timings.optimize = book.seconds("optimize")
        timings.variants = {name: next((d.seconds for d in book.decisions if d.stage == f"optimize:{name}"), 0.0)
                            for name in recipe.optimize.variants}
    timings.verify = round(book.seconds("verify") + book.seconds("inspect"), 2)
    timings.total = round(time.perf_counter() - start, 2)
    # The data and train stages' manifest records: what they found (the split's summary, the float accuracy).
    report = build_report(recipe, DataSummary.from_dict(manifest.record_of("data")["summary"]), results, timings,
                          manifest.record_of("train").get("float_accuracy"))
    report.anatomy = Anatomy.from_dict(manifest.record_of("inspect")) if "inspect" in judged else None
    report.stages = [decision.model_copy() for decision in book.decisions]  # as written: without the report's own time
    if not write:
        return report
    write_report(report, run.root)
    decision.seconds = round(time.perf_counter() - mark, 2)
    written = [run.root / name for name in (REPORT_JSON, REPORT_MD, JUNIT_XML, CONFUSION_PNG)]
    manifest.record(plan, [path for path in written if path.is_file()], {}, decision.seconds)
    return report
