"""The `kaggle-job` command line: thin typer commands over the library in core/.

Heavy imports (torch, pandas, the kaggle client) happen inside the commands so that
`kaggle-job --help` stays instant.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from core import api
from core.api import DEFAULT_COMPETITION, DEFAULT_MAX_PER_DAY, DEFAULT_MESSAGE, SCORE_WAIT_S
from core.base.errors import ExitCode, JobError, internal_error, storage_error
from core.base.log import FORMATS, Log, check_format
from core.base.workspace import CHECKPOINT_RULE, REPORTS_RULE


class _PlainHelp:
    """typer's rich help without its type labels where the name says it all: a flag's `<bool>`, an
    argument's `<path>` beside its metavar; arguments show in usage lines as `INPUT` and `IMAGE...`,
    not typer's `{INPUT}` or `[INPUT]` (predict's INPUT is needed unless --input is given)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if param.param_type_name == "argument":
                shown = param.metavar + ("..." if param.nargs != 1 else "")
                param.get_usage_pieces = lambda ctx, shown=shown: [shown]
                param.display_type_rich = _no_type
            elif getattr(param, "is_flag", False):
                param.display_type_rich = _no_type
        return params


def _no_type(ctx) -> None:
    return None


class Command(_PlainHelp, TyperCommand):
    pass


class Group(_PlainHelp, TyperGroup):
    pass


app = typer.Typer(
    cls=Group,
    name="kaggle-job",
    help="Train, batch-predict and submit for Kaggle image-classification competitions on pixel CSVs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Rich help: options in panels. Help texts hold no rich markup; defaults that are not plain values
    # are shown by typer (show_default="..."), which escapes them.
    rich_markup_mode="rich",
)

# The panels long commands group their options in (typer's rich_help_panel).
DATA, MODEL, SCHEDULE, OUTPUT, SUBMIT, RUNTIME = "Data", "Model", "Schedule", "Output", "Submission", "Runtime"


def _show_version(value: bool) -> None:
    if value:
        installed = api.version()
        typer.echo(f"kaggle-job {installed}" if installed else "kaggle-job (version unknown: not installed)")
        raise typer.Exit()


@app.callback()
def _top(version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = None):
    """Train, batch-predict and submit for Kaggle image-classification competitions on pixel CSVs."""


# Options shared by several commands.
Home = Annotated[Optional[Path], typer.Option(
    "--home", envvar="KAGGLE_JOB_HOME", metavar="DIR", show_default=".", rich_help_panel=RUNTIME,
    help="Working directory for data/, checkpoints/, submissions/.")]
Competition = Annotated[str, typer.Option("--competition", "-c", metavar="SLUG", rich_help_panel=DATA,
                                          help="Kaggle competition slug.")]
Device = Annotated[str, typer.Option("--device", metavar="DEVICE", rich_help_panel=RUNTIME,
                                     help="auto|cpu|cuda|mps (auto: CUDA, then MPS, then CPU).")]
Checkpoints = Annotated[list[Path], typer.Option(
    "--checkpoint", metavar="CHECKPOINT", help="Model checkpoint; repeat to average an ensemble.")]
LogFormat = Annotated[str, typer.Option(
    "--log-format", envvar="KAGGLE_JOB_LOG_FORMAT", metavar="FORMAT", rich_help_panel=RUNTIME,
    help="auto (rich on a terminal, JSON lines otherwise) | rich | json.")]
DemoFolders = Annotated[bool, typer.Option("--demo", rich_help_panel=DATA, help="Use the demo competition's folders.")]
LogFile = Annotated[Optional[Path], typer.Option("--log-file", metavar="FILE", rich_help_panel=RUNTIME,
                                                 help="Also append JSON log lines to this file.")]
IgnoreExtra = Annotated[bool, typer.Option(
    "--ignore-extra-columns", rich_help_panel=DATA,
    help="Skip columns other than the label, the id and the pixels instead of failing.")]
# Every command's last two options; `handled` adds them.
LOG_OPTIONS = tuple(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=alias)
                    for name, alias, default in (("log_format", LogFormat, "auto"), ("log_file", LogFile, None)))


InputShape = Annotated[Optional[str], typer.Option(
    "--input-shape", metavar="CxHxW", rich_help_panel=DATA, show_default="a square grayscale image",
    help="Image shape: 3x32x32 (colour planes one after another) or 28x28x3 (each pixel's channels side by "
         "side).")]
LabelColumn = Annotated[Optional[str], typer.Option(
    "--label-column", metavar="NAME", rich_help_panel=DATA,
    show_default="label, or the sample submission's label column",
    help="The label column's name when it is not `label`.")]
OutOfRange = Annotated[str, typer.Option(
    "--out-of-range", metavar="warn|error", rich_help_panel=DATA,
    help="Pixel values beyond the range the model was trained on (0..255 fed to a model trained on 0..16): "
         "warn, or error (exit 2, nothing written) for runs that must not guess.")]
WaitLock = Annotated[float, typer.Option("--wait-lock", min=0.0, metavar="SECONDS", rich_help_panel=RUNTIME,
                                         help="Wait this long for another command on this home to finish before exiting 7.")]
# The file predict and score read: INPUT, or --input/-i as predict took it before (hidden from help).
InputFile = Annotated[Optional[Path], typer.Argument(
    metavar="INPUT", show_default=False,
    help="Pixel file: .csv, .csv.gz, .csv.zip (one CSV) or .parquet.")]
InputOption = Annotated[Optional[Path], typer.Option("--input", "-i", metavar="FILE", hidden=True,
                                                     help="The same as INPUT.")]


def _one_input(command: str, argument: Path | None, option: Path | None) -> Path:
    """INPUT, or the --input spelling of it: exactly one of them."""
    if argument is not None and option is not None:
        raise JobError(f"{command}: give the input file once, as INPUT or as --input, not both "
                       f"(got {argument} and {option})", ExitCode.BAD_INPUT)
    if argument is None and option is None:
        raise JobError(f"{command}: missing INPUT, the pixel file to read (kaggle-job {command} INPUT --checkpoint "
                       "CHECKPOINT ...)", ExitCode.BAD_INPUT)
    return argument if argument is not None else option


def _json_value(option: str, text: str | None, kind: type, example: str):
    """The option's JSON text as a `kind` (dict or list), or one line saying what was expected."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobError(f"{option}: not valid JSON ({exc.msg} at character {exc.pos}): {text!r}", ExitCode.BAD_INPUT)
    if not isinstance(value, kind) or (kind is list and not all(isinstance(item, dict) for item in value)):
        raise JobError(f"{option}: expected a JSON {'object' if kind is dict else 'list of objects'} like "
                       f"'{example}', got {text!r}", ExitCode.BAD_INPUT)
    return value


def _path_options(kwargs: dict) -> list[tuple[str, Path]]:
    """(option, path) for each file or folder a command was given, --log-file aside."""
    found = []
    for name, value in kwargs.items():
        for path in value if isinstance(value, list) else [value]:
            if isinstance(path, Path) and name != "log_file":
                found.append((OPTION_NAMES.get(name, f"--{name.replace('_', '-')}"), path))
    return found


# Parameters whose name is not their option's.
OPTION_NAMES = {"input_file": "INPUT", "input_option": "--input", "images": "IMAGES"}


def handled(fn=None, *, distributed: bool = False):
    """Build the command's Log once and pass it in as `log`; turn every expected failure into one
    line on stderr (and in --log-file) and a documented exit code. Every command takes --log-format
    and --log-file: they are added here unless the command names them itself.

    Under torchrun (WORLD_SIZE > 1) a `distributed` command runs on every rank inside the process
    group (core.api.session); any other command runs on rank 0 alone.
    """
    if fn is None:
        return functools.partial(handled, distributed=distributed)
    own = inspect.signature(fn, eval_str=True).parameters

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        fmt = kwargs.get("log_format", "auto")
        log = Log(fmt=fmt if fmt in FORMATS else "auto", log_file=kwargs.get("log_file"))
        options = {name: value for name, value in kwargs.items() if name in own}
        try:
            world = api.world()
            log.rank = world.rank if world.distributed else None
            check_format(fmt)
            log.open_file(others=_path_options(kwargs))
            if not distributed:
                return None if world.rank else fn(*args, log=log, **options)
            with api.session(kwargs.get("device", "auto")):
                return fn(*args, log=log, **options)
        except JobError as exc:
            log.error(exc.message, exit_code=int(exc.exit_code))
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            log.error("interrupted", exit_code=int(ExitCode.INTERRUPTED))
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except typer.Exit:
            raise
        except Exception as exc:  # a bug: say so in one line, traceback on request
            if os.environ.get("KAGGLE_JOB_DEBUG"):
                raise
            known = storage_error(exc)  # unless it is the disk
            if known is not None:
                log.error(known.message, exit_code=int(known.exit_code))
                raise typer.Exit(int(known.exit_code)) from None
            log.error(internal_error(exc), exit_code=int(ExitCode.FAILURE))
            raise typer.Exit(int(ExitCode.FAILURE)) from None
        finally:
            log.close()

    # typer reads the options from the signature: `log` is ours to give, not an option.
    wrapper.__signature__ = inspect.Signature(
        [p for name, p in own.items() if name != "log"] + [p for p in LOG_OPTIONS if p.name not in own])
    return wrapper


@app.command(cls=Command)
@handled
def download(
    competition: Competition = DEFAULT_COMPETITION,
    data_dir: Annotated[Optional[Path], typer.Option(metavar="DIR", show_default="HOME/data/COMPETITION",
                                                     help="Where to unpack.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Unpack the embedded demo competition instead.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Unpack again even if the archive is unchanged.")] = False,
    home: Home = None,
    wait_lock: WaitLock = 0.0,
    *, log: Log,
):
    """Download the competition's files (or unpack the demo) into the data directory."""
    files = api.download(competition, data_dir=data_dir, demo=demo, force=force, home=home, wait_lock=wait_lock,
                         log=log)
    log.result(f"data ready in {files.directory}", event="download.result", data_dir=files.directory)


@app.command(cls=Command)
@handled(distributed=True)
def train(
    data_dir: Annotated[Optional[Path], typer.Option(
        metavar="DIR", rich_help_panel=DATA, show_default="HOME/data/COMPETITION",
        help="Folder holding train.csv.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(
        metavar="CHECKPOINT", rich_help_panel=OUTPUT, show_default=CHECKPOINT_RULE,
        help="Where to save.")] = None,
    preset: Annotated[str, typer.Option(metavar="PRESET", rich_help_panel=MODEL,
                                        help="demo|fast|default|best")] = "default",
    arch: Annotated[Optional[str], typer.Option(
        metavar="NAME", rich_help_panel=MODEL, show_default="the preset's, leannet",
        help="Model architecture: baseline, bncnn or leannet.")] = None,
    arch_kwargs: Annotated[Optional[str], typer.Option(
        "--arch-kwargs", metavar="JSON", rich_help_panel=MODEL,
        help='JSON settings for the architecture, e.g. \'{"stages": [32, 64, [128, 128]]}\'.')] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, metavar="N", rich_help_panel=SCHEDULE,
                                                  show_default="the preset's")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, metavar="N", rich_help_panel=SCHEDULE,
                                                      show_default="the preset's")] = None,
    lr: Annotated[Optional[float], typer.Option(min=0.0, metavar="RATE", rich_help_panel=SCHEDULE,
                                                help="Peak learning rate.", show_default="the preset's")] = None,
    val_fraction: Annotated[Optional[float], typer.Option(
        min=0.0, max=0.9, metavar="FRACTION", rich_help_panel=DATA, show_default="the preset's",
        help="Share held out for validation; 0 trains on every row.")] = None,
    seed: Annotated[Optional[int], typer.Option(metavar="N", rich_help_panel=SCHEDULE, show_default="0",
                                                help="Random seed (split, initial weights, augmentation).")] = None,
    time_budget: Annotated[Optional[float], typer.Option(
        "--time-budget", min=0.05, metavar="MINUTES", rich_help_panel=SCHEDULE, show_default="the preset's",
        help="Minutes for the whole training; the schedule fits inside it.")] = None,
    patience: Annotated[Optional[int], typer.Option(
        min=1, metavar="EPOCHS", rich_help_panel=SCHEDULE,
        help="Early stopping: epochs without a better val accuracy.")] = None,
    members: Annotated[Optional[int], typer.Option(
        min=1, metavar="N", rich_help_panel=MODEL, show_default="the preset's",
        help="Ensemble members (the best preset trains several).")] = None,
    folds: Annotated[Optional[int], typer.Option(
        min=0, metavar="K", rich_help_panel=MODEL, show_default="0: off",
        help="Members on their own rows: K stratified folds, member i validates on fold i mod K and trains on "
             "the rest; with --members K every row is out-of-bag for one member.")] = None,
    member_variants: Annotated[Optional[str], typer.Option(
        "--member-variants", metavar="JSON", rich_help_panel=MODEL, show_default="none",
        help='Members that differ: a JSON list of settings, member i taking item i mod its length, e.g. '
             '\'[{}, {"elastic_px": 1.0}]\' (docs/training.md).')] = None,
    elastic: Annotated[Optional[float], typer.Option(
        "--elastic", min=0.0, metavar="PIXELS", rich_help_panel=SCHEDULE, show_default="the preset's",
        help="Elastic distortion strength in pixels (0: off); see docs/training.md.")] = None,
    keep_last: Annotated[Optional[bool], typer.Option(
        "--keep-last/--keep-best", rich_help_panel=SCHEDULE, show_default="the preset's",
        help="Keep the last epoch, or the best by validation accuracy.")] = None,
    tta: Annotated[Optional[bool], typer.Option(
        "--tta/--no-tta", rich_help_panel=MODEL, show_default="the preset's, off",
        help="Bundle test-time 1-px shifts into the checkpoint (5x the prediction work).")] = None,
    resume: Annotated[bool, typer.Option("--resume", rich_help_panel=OUTPUT,
                                         help="Continue an interrupted run from CHECKPOINT's .state.pt.")] = False,
    pseudo_label: Annotated[Optional[bool], typer.Option(
        "--pseudo-label/--no-pseudo-label", rich_help_panel=DATA, show_default="off",
        help="A second round that also trains on the unlabelled rows (test.csv) the first round predicts "
             "surely, with its answers as labels; twice the training time.")] = None,
    pseudo_threshold: Annotated[Optional[float], typer.Option(
        "--pseudo-threshold", min=0.0, max=1.0, metavar="PROBABILITY", rich_help_panel=DATA,
        show_default="chosen on the holdout, docs/training.md",
        help="With --pseudo-label: the probability a row's prediction needs.")] = None,
    unlabelled: Annotated[Optional[Path], typer.Option(
        metavar="CSV", rich_help_panel=DATA, show_default="DIR/test.csv",
        help="With --pseudo-label: the pixel file to pseudo-label.")] = None,
    teacher: Annotated[Optional[Path], typer.Option(
        metavar="CHECKPOINT", rich_help_panel=DATA,
        help="With --pseudo-label: label the unlabelled rows with this model instead of a first round.")] = None,
    input_shape: InputShape = None,
    device: Device = "auto",
    precision: Annotated[Optional[str], typer.Option(
        metavar="PRECISION", rich_help_panel=RUNTIME, show_default="the preset's, auto",
        help="auto|fp32|bf16: mixed precision for training (auto: bf16 on CUDA and on CPUs with bf16 "
             "units).")] = None,
    label_column: LabelColumn = None,
    ignore_extra_columns: IgnoreExtra = False,
    competition: Competition = DEFAULT_COMPETITION,
    demo: DemoFolders = False,
    home: Home = None,
    wait_lock: WaitLock = 0.0,
    *, log: Log,
):
    """Train a model on train.csv and save a checkpoint (history in CHECKPOINT.history.csv)."""
    settings = dict(arch=arch, epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction, seed=seed,
                    time_budget=time_budget, patience=patience, members=members, folds=folds, elastic=elastic,
                    keep_last=keep_last, tta=tta, precision=precision, pseudo_label=pseudo_label,
                    pseudo_threshold=pseudo_threshold,
                    arch_kwargs=_json_value("--arch-kwargs", arch_kwargs, dict, '{"stages": [32, 64, 128]}'),
                    member_variants=_json_value("--member-variants", member_variants, list,
                                                '[{}, {"elastic_px": 1.0}]'))
    trained = api.train(
        data_dir, preset, checkpoint, input_shape=input_shape, label_column=label_column,
        ignore_extra_columns=ignore_extra_columns, resume=resume, device=device, competition=competition, demo=demo,
        home=home, wait_lock=wait_lock, log=log, unlabelled=unlabelled, teacher=teacher, **settings)
    metrics = trained.metrics
    log.result(f"saved {trained.checkpoint} ({trained.data}): {trained.validation} "
               f"after {metrics['epochs_run']} epochs in {metrics['train_seconds']:.1f}s",
               event="train.result", checkpoint=trained.checkpoint, rows=trained.rows,
               input_shape=trained.input_shape, classes=list(trained.classes), **metrics)
    log.result(f"training curves: {trained.curves}", event="train.curves", curves=trained.curves)


PredictBatch = Annotated[Optional[int], typer.Option(
    "--batch-size", min=1, metavar="N", rich_help_panel=RUNTIME, show_default="512 on CPU, 2048 on CUDA",
    help="Rows per forward pass; halved on CUDA out of memory.")]


@app.command(cls=Command)
@handled(distributed=True)
def predict(
    input_file: InputFile = None,
    checkpoint: Checkpoints = ...,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Submission CSV to write.")] = ...,
    sample: Annotated[Optional[Path], typer.Option(
        metavar="FILE", show_default="the one in --data-dir, else beside INPUT, if any",
        help="sample_submission.csv to check against (header, row count, ids).")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        metavar="DIR", help="Competition folder holding sample_submission.csv.")] = None,
    ignore_extra_columns: IgnoreExtra = False,
    label_column: LabelColumn = None,
    batch_size: PredictBatch = None,
    device: Device = "auto",
    input_option: InputOption = None,
    out_of_range: OutOfRange = "warn",
    *, log: Log,
):
    """Predict a pixel file and write a submission: the sample's format, ids and order, else ImageId,Label.

    With a sample submission (--sample, --data-dir or beside INPUT) the submission takes its header,
    ids and order; without one, ImageId,Label in the order of the file's rows."""
    input = _one_input("predict", input_file, input_option)
    written = api.predict_file(input, checkpoint, output, sample=sample, data_dir=data_dir,
                               ignore_extra_columns=ignore_extra_columns, label_column=label_column,
                               batch_size=batch_size, device=device, out_of_range=out_of_range, log=log)
    checked = f", checked against {written.sample}" if written.sample else ""
    log.result(f"wrote {written.rows} predictions to {written.output}{checked}", event="predict.result",
               output=written.output, rows=written.rows, sample=written.sample)


@app.command(cls=Command)
@handled(distributed=True)
def score(
    input_file: Annotated[Optional[Path], typer.Argument(
        metavar="INPUT", show_default=False,
        help="Any pixel file (.csv, .csv.gz, .csv.zip, .parquet), with or without labels.")] = None,
    checkpoint: Checkpoints = ...,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", rich_help_panel=OUTPUT,
                                                   help="Per-row predictions CSV.")] = None,
    probs: Annotated[Optional[Path], typer.Option(
        "--probs", metavar="FILE", rich_help_panel=OUTPUT,
        help="Also write class probabilities to this Parquet file (for ensembling).")] = None,
    report: Annotated[Optional[Path], typer.Option(metavar="DIR", rich_help_panel=OUTPUT,
                                                   help="Folder for the evaluation report.")] = None,
    ignore_extra_columns: IgnoreExtra = False,
    label_column: LabelColumn = None,
    batch_size: PredictBatch = None,
    device: Device = "auto",
    input_option: InputOption = None,
    out_of_range: OutOfRange = "warn",
    *, log: Log,
):
    """Score a pixel file: per-row predictions with confidence; accuracy when it has labels."""
    input = _one_input("score", input_file, input_option)
    scored = api.score_file(input, checkpoint, output=output, probs=probs, report=report,
                            ignore_extra_columns=ignore_extra_columns, label_column=label_column,
                            batch_size=batch_size, device=device, out_of_range=out_of_range, log=log)
    if scored.report:
        log.result(f"report: {scored.report}", event="score.report", report=scored.report,
                   files=[str(p) for p in scored.report_files])
    if scored.accuracy is not None:
        unknown = scored.unknown_labels
        counted = f" ({unknown} with labels outside the model's classes, counted as wrong)" if unknown else ""
        log.result(f"accuracy {scored.accuracy:.4f} on {scored.rows} rows{counted}",
                   event="score.result", accuracy=scored.accuracy, rows=scored.rows, unknown_labels=unknown)
    else:
        log.result(f"scored {scored.rows} rows (no label column, no accuracy)", event="score.result",
                   rows=scored.rows)


@app.command(cls=Command)
@handled(distributed=True)
def submit(
    checkpoint: Annotated[Optional[list[Path]], typer.Option(
        metavar="CHECKPOINT", help="Checkpoint(s) to predict test.csv with; repeat to average an ensemble.")] = None,
    file: Annotated[Optional[Path], typer.Option(metavar="FILE",
                                                 help="Submit this ready CSV instead of predicting.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        metavar="DIR", rich_help_panel=DATA, show_default="HOME/data/COMPETITION",
        help="Folder with test.csv and sample_submission.csv.")] = None,
    message: Annotated[str, typer.Option("--message", "-m", metavar="TEXT", rich_help_panel=SUBMIT,
                                         help="Submission description.")] = DEFAULT_MESSAGE,
    competition: Competition = DEFAULT_COMPETITION,
    dry_run: Annotated[bool, typer.Option("--dry-run", rich_help_panel=SUBMIT,
                                          help="Predict and validate, but do not upload.")] = False,
    wait: Annotated[bool, typer.Option("--wait", rich_help_panel=SUBMIT,
                                       help="Wait until Kaggle scores it; print the public score.")] = False,
    wait_timeout: Annotated[float, typer.Option(min=1, metavar="SECONDS", rich_help_panel=SUBMIT,
                                                help="Seconds --wait waits for the score.")] = SCORE_WAIT_S,
    max_per_day: Annotated[int, typer.Option(
        min=1, metavar="N", rich_help_panel=SUBMIT,
        help="Refuse to submit when today's submissions reach this.")] = DEFAULT_MAX_PER_DAY,
    device: Device = "auto",
    out_of_range: OutOfRange = "warn",
    home: Home = None,
    wait_lock: WaitLock = 0.0,
    *, log: Log,
):
    """Predict the competition's test.csv, validate against sample_submission.csv and upload."""
    outcome = api.submit(checkpoint, file=file, data_dir=data_dir, message=message, competition=competition,
                         dry_run=dry_run, wait=wait, wait_timeout=wait_timeout, max_per_day=max_per_day,
                         device=device, out_of_range=out_of_range, home=home, wait_lock=wait_lock, log=log)
    if outcome.ref is None:
        log.result(f"dry run: {outcome.file} is valid ({outcome.rows} rows); nothing uploaded",
                   event="submit.dry_run", file=outcome.file)
        return
    if outcome.scored is not None:
        log.result(f"submission {outcome.ref} scored: public score {outcome.scored.public_score or '(not published)'}",
                   event="submit.scored", ref=outcome.ref, public_score=outcome.scored.public_score)


@app.command(cls=Command)
@handled
def submissions(
    competition: Competition = DEFAULT_COMPETITION,
    limit: Annotated[int, typer.Option(min=1, max=100, metavar="N",
                                       help="How many recent submissions to show.")] = 20,
    *, log: Log,
):
    """Recent Kaggle submissions with status and scores (a table on a terminal, JSON lines otherwise)."""
    api.show_submissions(api.submissions(competition, limit, log=log), log.fmt)


@app.command(cls=Command)
@handled(distributed=True)
def run(
    competition: Competition = DEFAULT_COMPETITION,
    demo: Annotated[bool, typer.Option("--demo", rich_help_panel=DATA,
                                       help="Run the embedded demo even when credentials are set.")] = False,
    checkpoint: Annotated[Optional[Path], typer.Option(metavar="CHECKPOINT", rich_help_panel=MODEL,
                                                       help="Use this checkpoint instead of training.")] = None,
    retrain: Annotated[bool, typer.Option("--retrain", rich_help_panel=MODEL,
                                          help="Train even if a checkpoint for this data exists.")] = False,
    preset: Annotated[Optional[str], typer.Option(
        metavar="PRESET", rich_help_panel=MODEL, show_default="demo for the demo, else default",
        help="Training preset: demo|fast|default|best.")] = None,
    submit: Annotated[bool, typer.Option("--submit/--no-submit", rich_help_panel=SUBMIT,
                                         help="Upload when the model beats the last submission on validation.")] = False,
    force_submit: Annotated[bool, typer.Option("--force-submit", rich_help_panel=SUBMIT,
                                               help="Upload even if it does not beat the last one.")] = False,
    message: Annotated[Optional[str], typer.Option("--message", "-m", metavar="TEXT", rich_help_panel=SUBMIT,
                                                   help="Submission description.")] = None,
    wait_lock: WaitLock = 0.0,
    max_per_day: Annotated[int, typer.Option(
        "--max-per-day", min=1, metavar="N", rich_help_panel=SUBMIT,
        help="Skip the upload (exit 9) once today's submissions reach this.")] = DEFAULT_MAX_PER_DAY,
    label_column: LabelColumn = None,
    ignore_extra_columns: IgnoreExtra = False,
    input_shape: InputShape = None,
    device: Device = "auto",
    out_of_range: OutOfRange = "warn",
    home: Home = None,
    *, log: Log,
):
    """The whole job: lock, download, train or load, predict, write submissions/COMPETITION/UTC-TIME/, submit."""
    outcome = api.run(competition=competition, demo=demo, checkpoint=checkpoint, retrain=retrain, preset=preset,
                      submit=submit, force_submit=force_submit, message=message, wait_lock=wait_lock,
                      max_per_day=max_per_day, label_column=label_column, ignore_extra_columns=ignore_extra_columns,
                      input_shape=input_shape, device=device, out_of_range=out_of_range, home=home, log=log)
    manifest = outcome.manifest
    log.result(f"wrote {outcome.submission}", event="run.result", submission=outcome.submission,
               rows=manifest["rows"], submitted=manifest["submitted"], ref=manifest.get("submission_ref"))
    if "demo_accuracy" in manifest:
        log.result(f"demo accuracy: {manifest['demo_accuracy']:.4f} on {manifest['rows']} "
                   "held-out demo test rows", event="run.demo_accuracy", accuracy=manifest["demo_accuracy"])


@app.command("inspect", cls=Command)
@handled
def inspect_data_command(
    data_dir: Annotated[Optional[Path], typer.Option(
        metavar="DIR", rich_help_panel=DATA, show_default="HOME/data/COMPETITION",
        help="Folder with train.csv/test.csv.")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="DIR", show_default=REPORTS_RULE,
        help="Folder for the pictures.")] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Which random digits the grid shows.")] = 0,
    input_shape: InputShape = None,
    label_column: LabelColumn = None,
    ignore_extra_columns: IgnoreExtra = False,
    competition: Competition = DEFAULT_COMPETITION,
    demo: DemoFolders = False,
    home: Home = None,
    *, log: Log,
):
    """First look at the data: shapes, class balance and a 5x5 grid of random digits (PNG)."""
    summary = api.inspect(data_dir, output, seed=seed, input_shape=input_shape, label_column=label_column,
                          ignore_extra_columns=ignore_extra_columns, competition=competition, demo=demo, home=home,
                          log=log)
    for item in summary.files:
        log.result(item.line(), event="inspect.file", **vars(item))
    if summary.balance:
        log.result(summary.balance_line(), event="inspect.balance",
                   balance={label: rows for label, rows, _ in summary.balance})
        log.result(f"class balance chart: {summary.balance_chart}", event="inspect.balance_chart", path=summary.balance_chart)
    log.result(f"digit grid: {summary.grid}", event="inspect.grid", path=summary.grid)


@app.command("predict-image", cls=Command)
@handled
def predict_image(
    images: Annotated[list[Path], typer.Argument(metavar="IMAGE", show_default=False,
                                                 help="PNG or JPEG files, one digit each, any size.")],
    checkpoint: Checkpoints,
    top: Annotated[int, typer.Option(min=1, metavar="N", help="How many classes to list per image.")] = 3,
    grid: Annotated[Optional[Path], typer.Option(
        metavar="FILE", help="Also save a PNG of the images as the model saw them.")] = None,
    device: Device = "auto",
    out_of_range: OutOfRange = "warn",
    *, log: Log,
):
    """Name the digit in each image (prepared the MNIST way) with the top probabilities."""
    predicted = api.predict_images(images, checkpoint, top=top, grid=grid, device=device, out_of_range=out_of_range,
                                   log=log)
    for item in predicted.images:
        log.result(item.line(), event="predict_image.result", image=item.path, label=item.label,
                   top=[[label, prob] for label, prob in item.top])
    if predicted.grid:
        log.result(f"prepared images: {predicted.grid}", event="predict_image.grid", path=predicted.grid)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
