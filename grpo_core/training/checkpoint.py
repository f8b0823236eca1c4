"""Checkpoints of a GRPO run and exact resume (``checkpoint_every``, ``checkpoint_keep``, ``resume``).

Every ``checkpoint_every`` steps, and after the last step, the trainer writes
``OUT/checkpoints/step-<N>/``:

- ``model.safetensors``, ``optimizer.bin``, ``scheduler.bin``, ``random_states_<rank>.pkl``:
  ``accelerate.Accelerator.save_state`` (the prepared policy, AdamW, LR schedule, and the python,
  numpy and torch global RNG states; the torch global RNG is the one ``generate`` samples with).
  A policy with frozen weights (LoRA) saves only its trainable tensors, unless a reference reset
  has folded the adapter into the base weights (``lora.fold_adapter``): then all of them.
- ``trainer_tensors_<rank>.safetensors``: the prompt order and the state of the prompt-shuffling
  generator (``TrainState.generator``).
- ``reference.safetensors``: pi_ref's weights when it is a separate copy (it differs from the
  loaded model after a reference reset).
- ``trainer_state.json``: step, prompt cursor, beta and the adaptive-KL controller, the resolved
  advantage mode, the evaluation history, the GRPO seconds so far, how many bytes and rows
  metrics.jsonl and samples.jsonl had, the process count and the run's configuration.
- ``tokenizer/``: the tokenizer (``save_pretrained``), so that the directory stands alone.
- ``COMPLETE``: written last.

Atomicity: everything is written to the sibling ``.tmp-step-<N>/``, every file and the directory
are fsynced, ``COMPLETE`` is written (and fsynced) inside it, and only then is it renamed to
``step-<N>``. A checkpoint counts only under its final name *and* with ``COMPLETE``; a crash
mid-write leaves a ``.tmp-`` directory (or, if someone tampers, a ``step-N`` without the marker),
which is ignored and removed when the next run starts in OUT. The newest ``checkpoint_keep``
complete checkpoints are kept.

Resume (``resume: true``; which checkpoint and which configuration changes:
grpo_core.training.resume) restores the state above and cuts metrics.jsonl / samples.jsonl back to their recorded lengths,
so that a step the killed run logged after its last checkpoint is run and logged again exactly
once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from grpo_core.training.config import TrainConfig
from grpo_core.training.evaluation import EvalResult
from grpo_core.training.metrics import LogPosition, check_logs

if TYPE_CHECKING:
    from grpo_core.training.state import TrainState

CHECKPOINTS_DIR = "checkpoints"
COMPLETE_MARKER = "COMPLETE"
STATE_FILE = "trainer_state.json"
REFERENCE_FILE = "reference.safetensors"
TOKENIZER_DIR = "tokenizer"
FORMAT_VERSION = 1
TMP_PREFIX = ".tmp-"
_STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint cannot be written, found or resumed from; the message says which and why."""


# -- finding checkpoints --------------------------------------------------------------------


def checkpoints_dir(out: Path) -> Path:
    """``OUT/checkpoints``."""
    return Path(out) / CHECKPOINTS_DIR


def is_complete(path: Path) -> bool:
    """A finished checkpoint: named ``step-N`` and holding its ``COMPLETE`` marker."""
    return bool(_STEP_DIR.match(path.name)) and (path / COMPLETE_MARKER).is_file()


def complete_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every complete checkpoint in OUT, oldest first."""
    root = checkpoints_dir(out)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name))]
    return sorted((step, p) for step, p in found if is_complete(p))


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint in OUT, or None."""
    complete = complete_checkpoints(out)
    return complete[-1][1] if complete else None


def remove_incomplete(out: Path) -> list[Path]:
    """Delete what a crash mid-write left in OUT/checkpoints (``.tmp-*`` directories and
    ``step-N`` directories without ``COMPLETE``); return the paths removed."""
    root = checkpoints_dir(out)
    if not root.is_dir():
        return []
    stale = [
        p
        for p in root.iterdir()
        if p.name.startswith(TMP_PREFIX) or (_STEP_DIR.match(p.name) and not is_complete(p))
    ]
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return stale


def prune(out: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete checkpoints; return the paths removed."""
    old = [p for _, p in complete_checkpoints(out)[:-keep]] if keep > 0 else []
    for path in old:
        shutil.rmtree(path)
    return old


def read_state(path: Path) -> dict[str, Any]:
    """The ``trainer_state.json`` of a checkpoint, checked for its format and step."""
    try:
        payload = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: cannot read {STATE_FILE}: {exc}") from exc
    if payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path}: format {payload.get('format')!r}, this grpokit reads "
            f"format {FORMAT_VERSION}"
        )
    match = _STEP_DIR.match(path.name)
    if match and int(match.group(1)) != payload.get("step"):
        raise CheckpointError(
            f"checkpoint {path}: its state is of step {payload.get('step')}, not {match.group(1)}"
        )
    return payload


# -- writing --------------------------------------------------------------------------------


def save_checkpoint(
    out: Path,
    state: TrainState,
    accelerator: Any,
    *,
    cfg: TrainConfig,
    tokenizer: Any,
    logs: LogPosition,
    seconds: float,
) -> Path:
    """Write ``OUT/checkpoints/step-<state.step>`` atomically (module docstring), prune to
    ``cfg.checkpoint_keep``; every process calls this. Returns the checkpoint's path."""
    root = checkpoints_dir(out)
    final, tmp = root / f"step-{state.step}", root / f"{TMP_PREFIX}step-{state.step}"
    main = accelerator.is_main_process
    if main:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    weights = policy_weights(accelerator.unwrap_model(state.policy))
    handle = accelerator.register_save_state_pre_hook(_weights_hook(weights is not None))
    try:
        accelerator.save_state(str(tmp))
    finally:
        handle.remove()
    _save_tensors(tmp, state, accelerator.process_index)
    if main:
        payload = _payload(state, cfg, logs, seconds, accelerator, weights or "full")
        (tmp / STATE_FILE).write_text(json.dumps(payload, indent=1), encoding="utf-8")
        _save_reference(tmp, state)
        tokenizer.save_pretrained(tmp / TOKENIZER_DIR)
    accelerator.wait_for_everyone()
    if main:
        _publish(tmp, final)
        prune(out, cfg.checkpoint_keep)
    accelerator.wait_for_everyone()
    return final


def policy_weights(model: Any) -> str | None:
    """``"trainable"`` when only the trainable tensors need saving: some weights are frozen and no
    reference reset has folded a LoRA adapter into them; else None (save everything)."""
    from grpo_core.training.lora import folds

    frozen = any(not p.requires_grad for p in model.parameters())
    return "trainable" if frozen and folds(model) == 0 else None


def _weights_hook(trainable_only: bool) -> Callable[[list, list, str], None]:
    """An accelerate save hook that drops the tensors sharing storage with an earlier one (tied
    weights, which accelerate would drop too, with a warning) and, with ``trainable_only``,
    every tensor that is not a trainable parameter."""

    def hook(models: list, weights: list, output_dir: str) -> None:
        if len(models) != len(weights):  # FSDP/DeepSpeed save their models themselves
            return
        for model, state in zip(models, weights, strict=True):
            params = model.named_parameters(remove_duplicate=False)
            keep = {n for n, p in params if p.requires_grad} if trainable_only else set(state)
            seen: set[tuple] = set()
            for key in list(state):
                tensor = state[key]
                ident = (tensor.data_ptr(), tensor.dtype, tuple(tensor.shape))
                if key not in keep or (tensor.numel() and ident in seen):
                    del state[key]
                elif tensor.numel():
                    seen.add(ident)

    return hook


def _no_op(*_: Any) -> None:
    """accelerate load hook that changes nothing."""


def _save_tensors(path: Path, state: TrainState, rank: int) -> None:
    from safetensors.torch import save_file

    tensors = {
        "prompt_order": state.prompt_order.contiguous(),
        "generator": state.generator.get_state().contiguous(),
    }
    save_file(tensors, str(path / f"trainer_tensors_{rank}.safetensors"))


def _save_reference(path: Path, state: TrainState) -> None:
    """pi_ref's weights when it is a copy of its own (a LoRA reference shares the policy)."""
    from safetensors.torch import save_model

    ref = state.reference
    if ref is not None and not getattr(ref, "shared", False):
        save_model(ref.model, str(path / REFERENCE_FILE))


def _payload(
    state: TrainState,
    cfg: TrainConfig,
    logs: LogPosition,
    seconds: float,
    accelerator: Any,
    weights: str,
) -> dict[str, Any]:
    from grpo_core.training.lora import folds

    def result(r: EvalResult | None) -> dict | None:
        return None if r is None else dataclasses.asdict(r)

    controller = state.kl_controller
    return {
        "format": FORMAT_VERSION,
        "step": state.step,
        "cursor": state.cursor,
        "beta": state.beta,
        "kl_controller": None if controller is None else controller.state_dict(),
        "advantage_mode": state.advantage_mode,
        "history": [list(h) for h in state.history],
        "initial_eval": result(state.initial_eval),
        "last_eval": result(state.last_eval),
        "seconds": seconds,
        "logs": dataclasses.asdict(logs),
        "num_processes": accelerator.num_processes,
        "policy_weights": weights,
        "adapter_folds": folds(accelerator.unwrap_model(state.policy)),
        "config": normalised(dataclasses.asdict(cfg)),
    }


def normalised(value: Any) -> Any:
    """A configuration value as JSON gives it back (tuples -> lists, etc.)."""
    return json.loads(json.dumps(value, default=str))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    """fsync every file and directory under ``path`` (deepest first), then ``path``."""
    for folder, _, files in os.walk(path, topdown=False):
        for name in files:
            _fsync(Path(folder) / name)
        _fsync(Path(folder))


def _publish(tmp: Path, final: Path) -> None:
    """Make the written ``tmp`` durable, mark it complete, and rename it to ``final``."""
    _fsync_tree(tmp)
    marker = tmp / COMPLETE_MARKER
    marker.write_text("complete\n", encoding="utf-8")
    _fsync(marker)
    _fsync(tmp)
    if final.exists():  # a leftover of an earlier run; ours is the one to keep
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync(final.parent)


# -- restoring ------------------------------------------------------------------------------


def restore(path: Path, state: TrainState, accelerator: Any) -> LogPosition:
    """Load checkpoint ``path`` into ``state`` (and the global RNGs); return the position the
    logs must be cut back to. Call it after everything else is built: it sets the RNGs."""
    payload = read_state(path)
    logs = LogPosition(**payload["logs"])
    check_logs(path.parent.parent, logs)  # fail now, not after training resumed
    if payload["num_processes"] != accelerator.num_processes:
        raise CheckpointError(
            f"checkpoint {path} was written by {payload['num_processes']} process(es), this run "
            f"has {accelerator.num_processes}: an exact resume needs the same number"
        )
    _restore_folds(accelerator.unwrap_model(state.policy), payload.get("adapter_folds", 0))
    hook = _load_trainable if payload["policy_weights"] == "trainable" else _no_op
    handle = accelerator.register_load_state_pre_hook(hook)
    try:
        accelerator.load_state(str(path))
    finally:
        handle.remove()
    _check_rng(path, accelerator.process_index)
    _restore_tensors(path, state, accelerator.process_index)
    _restore_reference(path, state)
    _restore_fields(payload, state)
    return logs


def _restore_folds(model: Any, count: int) -> None:
    from grpo_core.training.lora import FOLDS_ATTRIBUTE, is_peft_model

    if count and is_peft_model(model):
        setattr(model, FOLDS_ATTRIBUTE, count)


def _load_trainable(models: list, input_dir: str) -> None:
    """accelerate load hook: load trainable-only weight files ourselves (a missing key must be
    a frozen tensor or share storage with a loaded one) and take those models off the list."""
    from accelerate.utils import SAFE_MODEL_NAME
    from safetensors.torch import load_file

    for i, model in enumerate(list(models)):
        file = Path(input_dir) / f"{SAFE_MODEL_NAME}{f'_{i}' if i else ''}.safetensors"
        tensors = load_file(str(file))
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        loaded = {t.data_ptr() for n, t in model.state_dict().items() if n in tensors}
        params = dict(model.named_parameters(remove_duplicate=False))
        lost = [
            n
            for n in missing
            if n in params and params[n].requires_grad and params[n].data_ptr() not in loaded
        ]
        if unexpected or lost:
            raise CheckpointError(
                f"checkpoint {input_dir}: the policy's weights do not fit this model "
                f"(unexpected: {unexpected[:5]}, trainable but missing: {lost[:5]})"
            )
    models.clear()


def _check_rng(path: Path, rank: int) -> None:
    """accelerate swallows a failed RNG restore; an exact resume cannot, so compare."""
    from accelerate.utils import RNG_STATE_NAME, load

    file = path / f"{RNG_STATE_NAME}_{rank}.pkl"
    try:
        saved = load(file)["torch_manual_seed"]
    except Exception as exc:  # noqa: BLE001 - any failure means the RNG was not restored
        raise CheckpointError(
            f"checkpoint {path}: cannot read the RNG states {file}: {exc}"
        ) from exc
    if not torch.equal(saved, torch.get_rng_state()):
        raise CheckpointError(f"checkpoint {path}: the torch RNG state was not restored")


def _restore_tensors(path: Path, state: TrainState, rank: int) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(path / f"trainer_tensors_{rank}.safetensors"))
    state.prompt_order = tensors["prompt_order"]
    state.generator.set_state(tensors["generator"])


def _restore_reference(path: Path, state: TrainState) -> None:
    from safetensors.torch import load_model

    ref, file = state.reference, path / REFERENCE_FILE
    if ref is None or getattr(ref, "shared", False):
        return
    if not file.exists():
        raise CheckpointError(f"checkpoint {path}: no {REFERENCE_FILE} for the KL reference")
    load_model(ref.model, str(file))


def _restore_fields(payload: Mapping[str, Any], state: TrainState) -> None:
    def result(d: Mapping[str, Any] | None) -> EvalResult | None:
        return None if d is None else EvalResult(**d)

    state.step, state.cursor = payload["step"], payload["cursor"]
    state.beta, state.advantage_mode = payload["beta"], payload["advantage_mode"]
    if state.kl_controller is not None and payload["kl_controller"] is not None:
        state.kl_controller.load_state_dict(payload["kl_controller"])
    state.history = [(int(s), a) for s, a in payload["history"]]
    state.initial_eval = result(payload["initial_eval"])
    state.last_eval = result(payload["last_eval"])
    state.seconds = float(payload["seconds"])
