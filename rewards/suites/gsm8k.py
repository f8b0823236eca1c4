"""The ``gsm8k`` task suite: grade-school math word problems in the GSM8K format.

Data: local JSON Lines (``.jsonl``), JSON (``.json``, an array of objects or one object a line)
or Parquet (``.parquet``) files read with the ``datasets`` library, or a Hugging Face Hub
dataset (``openai/gsm8k``, config ``main``) when online. Each record has a ``question`` and an
``answer`` whose worked solution ends with ``#### <number>`` (``#### 1,234``, ``#### -3``,
``#### 2.5``).

Where the data comes from (options):

* ``path`` a file: its rows are split into train and test by a seeded shuffle, ``test_fraction``
  (default 0.2) of them held out.
* ``path`` a directory: its ``train*`` and ``test*`` files (``train.jsonl``,
  ``test-00000-of-00001.parquet``...; also in a ``<config>/`` subdirectory, as in a Hub
  snapshot). With both, the files' own split is used and the seed changes nothing; with only
  one of them, it is split as a single file.
* ``train_file`` / ``test_file`` instead of ``path``: the same, naming the files.
* ``path`` a Hub name (``owner/name``) that is not a local path: ``load_dataset(path, config)``;
  its ``train``/``test`` splits are used as files are.

Rows: ``id`` (``<file name>:<row>``; ``train:<row>`` from the Hub), ``question``, ``prompt``
(``prompt_template`` with the question put in place of ``{question}``), ``answer`` (the number
after ``####``, commas, a leading ``+`` and a final period dropped: ``1,234`` -> ``1234``),
``solution`` (the worked solution with GSM8K's calculator annotations ``<<48/2=24>>`` removed,
unless ``calculator_annotations``, then ``#### <answer>``: a reference completion the default
scheme scores 1). ``limit`` keeps the first rows of each split. A record without ``question``
or ``answer``, or whose answer has no ``#### <number>``, is a SuiteError naming the file, the
row (1-based) and the field.

``datasets`` comes with ``grpokit[train]``; it is imported only when rows are loaded, and loading
JSON or Parquet with it does not import torch.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewards.suite import Split, SuiteError, TaskSuite

NAME = "gsm8k"
PROMPT = (
    "{question}\n\n"
    "Solve the problem step by step. Then give the final answer as a number, either in "
    "\\boxed{} or on the last line after ####."
)
FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
#: a final line in the asked format: ``\boxed{...}`` or ``#### <number>``, then a short tail
FORMAT_PATTERN = r".*(?:\\boxed\{[^\n]*\}|####[ \t]*[-+]?[\d,]*\.?\d+)[^\n]{0,20}\s*"

_HUB_NAME = re.compile(r"[\w.-]+/[\w.-]+")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)")
_CALCULATOR = re.compile(r"<<[^<>]*>>")


@dataclass(frozen=True)
class GSM8KOptions:
    """Where the data is and how rows are built (module docstring).

    ``path``: a file, a directory of ``train*``/``test*`` files, or a Hub dataset name.
    ``train_file`` / ``test_file``: the files, instead of ``path``. ``config``: the Hub config.
    ``test_fraction``: share held out (seeded) when there is only one file. ``limit``: rows per
    split at most. ``prompt_template``: must contain ``{question}``.
    ``calculator_annotations``: keep ``<<48/2=24>>`` in ``solution``. ``cache_dir``: the
    ``datasets`` cache (default: its own, ``~/.cache/huggingface/datasets``).
    """

    path: str | None = None
    train_file: str | None = None
    test_file: str | None = None
    config: str = "main"
    test_fraction: float = 0.2
    limit: int | None = None
    prompt_template: str = PROMPT
    calculator_annotations: bool = False
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        files = self.train_file is not None or self.test_file is not None
        if self.path is not None and files:
            raise ValueError("give 'path' or 'train_file'/'test_file', not both")
        if self.path is None and not files:
            raise ValueError(
                "option 'path' is required: a GSM8K-format .jsonl/.json/.parquet file, a "
                "directory with train/test files, or a Hub dataset name such as openai/gsm8k"
            )
        for name in ("path", "train_file", "test_file", "config", "cache_dir"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"option {name!r} must be a non-empty string, not {value!r}")
        tf = self.test_fraction
        if isinstance(tf, bool) or not isinstance(tf, int | float) or not 0 <= tf < 1:
            raise ValueError(f"option 'test_fraction' must be in [0, 1), not {tf!r}")
        lim = self.limit
        if lim is not None and (isinstance(lim, bool) or not isinstance(lim, int) or lim < 1):
            raise ValueError(f"option 'limit' must be a positive integer, not {lim!r}")
        if not isinstance(self.prompt_template, str) or "{question}" not in self.prompt_template:
            raise ValueError("option 'prompt_template' must contain {question}")
        if not isinstance(self.calculator_annotations, bool):
            raise ValueError("option 'calculator_annotations' must be true or false")


@dataclass(frozen=True)
class Table:
    """The records of one source (a file, or one split of a Hub dataset): ``label`` names it in
    errors, ``key`` in row ids."""

    label: str
    key: str
    records: list[dict[str, Any]]


class GSM8KSuite(TaskSuite):
    """GSM8K word problems from local JSON/JSONL/Parquet files or the Hub (module docstring)."""

    name = NAME
    description = "GSM8K-format math word problems (#### answers) from JSON/JSONL/Parquet or Hub"
    Options = GSM8KOptions
    required_fields = ("prompt", "answer", "solution")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._rows: dict[str, list[dict[str, Any]]] | None = None

    def load(self, split: Split, seed: int) -> Iterator[dict[str, Any]]:
        opts: GSM8KOptions = self.options
        by_split = self._all_rows()
        if "test" in by_split and "train" in by_split:
            chosen = by_split[split]
        else:
            (rows,) = by_split.values()
            chosen = held_out_split(rows, split, seed, opts.test_fraction)
        yield from chosen[: opts.limit]

    def default_scheme(self) -> dict[str, Any]:
        """``math`` on ``answer`` (the answer in ``\\boxed{}``, an "answer is" sentence or after
        ``####``; a bare last number gets no credit) plus 0.1 for a final line in the asked
        format."""
        return {
            "verifiers": {
                "math": {"weight": 1.0},
                "format": {"weight": 0.1, "options": {"pattern": FORMAT_PATTERN}},
            }
        }

    # -- loading ----------------------------------------------------------------------------

    def _all_rows(self) -> dict[str, list[dict[str, Any]]]:
        """Rows by split (``train``/``test``, or the one split present), read once."""
        if self._rows is None:
            self._rows = {
                split: [row for table in tables for row in self._rows_of(table)]
                for split, tables in self._tables().items()
            }
        return self._rows

    def _tables(self) -> dict[str, list[Table]]:
        opts: GSM8KOptions = self.options
        if opts.path is None:
            named = {"train": opts.train_file, "test": opts.test_file}
            files = {s: [local_file(f, s + "_file")] for s, f in named.items() if f is not None}
        else:
            path = Path(opts.path).expanduser()
            if path.is_file():
                files = {"train": [path]}
            elif path.is_dir():
                files = split_files(path, opts.config)
            elif _HUB_NAME.fullmatch(opts.path) and path.suffix not in FORMATS:
                return read_hub(opts.path, opts.config, opts.cache_dir)
            else:
                raise SuiteError(f"suite {NAME!r}: no such file or directory: {path}")
        return {s: [read_file(f, opts.cache_dir) for f in fs] for s, fs in files.items()}

    def _rows_of(self, table: Table) -> Iterator[dict[str, Any]]:
        for number, record in enumerate(table.records, start=1):
            yield self._row(record, f"{table.label} row {number}", f"{table.key}:{number}")

    def _row(self, record: Mapping[str, Any], where: str, row_id: str) -> dict[str, Any]:
        opts: GSM8KOptions = self.options
        question, text = (_text_field(record, f, where) for f in ("question", "answer"))
        worked, marker, final = text.rpartition("####")
        answer = final.strip().rstrip(".").replace(",", "").lstrip("+")
        if not marker or not _NUMBER.fullmatch(answer):
            raise SuiteError(
                f"suite {NAME!r}: {where}: field 'answer' must end with '#### <number>', "
                f"got {text[-60:]!r}"
            )
        if not opts.calculator_annotations:
            worked = _CALCULATOR.sub("", worked)
        return {
            "id": row_id,
            "question": question,
            "prompt": opts.prompt_template.replace("{question}", question.strip()),
            "answer": answer,
            "solution": f"{worked.strip()}\n#### {answer}".lstrip(),
        }


def _text_field(record: Mapping[str, Any], field: str, where: str) -> str:
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SuiteError(f"suite {NAME!r}: {where}: missing field {field!r}")
    if not isinstance(value, str):
        raise SuiteError(
            f"suite {NAME!r}: {where}: field {field!r} must be text, not {type(value).__name__}"
        )
    return value


def held_out_split(
    rows: list[dict[str, Any]], split: Split, seed: int, fraction: float
) -> list[dict[str, Any]]:
    """``split`` of ``rows``: a seeded shuffle puts ``round(fraction * n)`` rows in test and the
    rest in train (disjoint); each split keeps the rows' order."""
    order = list(range(len(rows)))
    random.Random(f"{NAME}:{seed}").shuffle(order)
    n_test = round(fraction * len(rows))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    return [rows[i] for i in sorted(chosen)]


# -- files ----------------------------------------------------------------------------------


def local_file(name: str, option: str) -> Path:
    path = Path(name).expanduser()
    if not path.is_file():
        raise SuiteError(f"suite {NAME!r}: no such file: {path} (option {option!r})")
    return path


def split_files(directory: Path, config: str) -> dict[str, list[Path]]:
    """The ``train*`` and ``test*`` data files of ``directory`` (or of ``directory/config``)."""
    for folder in (directory, directory / config):
        found: dict[str, list[Path]] = {}
        for split in ("train", "test"):
            files = sorted(
                p for p in folder.glob(f"{split}*") if p.is_file() and p.suffix in FORMATS
            )
            if files:
                found[split] = files
        if found:
            return found
    raise SuiteError(
        f"suite {NAME!r}: no train* or test* {'/'.join(FORMATS)} file in {directory} "
        f"(nor in {directory / config})"
    )


def _datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise SuiteError(
            f"suite {NAME!r} reads data with the datasets library: "
            "pip install 'grpokit[train]' (or pip install datasets)"
        ) from exc
    return datasets


def read_file(path: Path, cache_dir: str | None) -> Table:
    """All records of one JSON/JSONL/Parquet file; an unreadable file is a SuiteError."""
    builder = FORMATS.get(path.suffix.lower())
    if builder is None:
        raise SuiteError(
            f"suite {NAME!r}: {path}: unsupported file type {path.suffix!r} "
            f"(expected {', '.join(FORMATS)})"
        )
    datasets = _datasets()
    try:
        data = datasets.load_dataset(
            builder, data_files=str(path), split="train", cache_dir=cache_dir
        )
    except Exception as exc:
        raise SuiteError(f"suite {NAME!r}: cannot read {path}: {_cause(exc)}") from exc
    return Table(str(path), path.name, data.to_list())


def read_hub(name: str, config: str, cache_dir: str | None) -> dict[str, list[Table]]:
    """The ``train``/``test`` splits of Hub dataset ``name`` (downloaded once, then cached)."""
    datasets = _datasets()
    try:
        data = datasets.load_dataset(name, config, cache_dir=cache_dir)
    except Exception as exc:
        raise SuiteError(
            f"suite {NAME!r}: {name!r} is not a local file or directory, and loading it from "
            f"the Hugging Face Hub (config {config!r}) failed: {_cause(exc)}"
        ) from exc
    tables = {
        s: [Table(f"{name} (config {config!r}, split {s!r})", s, data[s].to_list())]
        for s in ("train", "test")
        if s in data
    }
    if not tables:
        raise SuiteError(
            f"suite {NAME!r}: Hub dataset {name!r} (config {config!r}) has no train or test "
            f"split (splits: {', '.join(data)})"
        )
    return tables


def _cause(exc: BaseException) -> str:
    """The innermost cause of ``exc`` (``datasets`` wraps parse errors in generic ones)."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    text = f"{type(seen).__name__}: {seen}"
    return text if seen is exc else f"{type(exc).__name__}: {exc} ({text})"
