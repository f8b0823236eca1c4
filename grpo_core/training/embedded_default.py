"""The embedded default policy, built on first use and cached: a fresh tiny Llama
(grpo_core.training.tiny_model) given a supervised warm start (grpo_core.training.warm_start),
saved under ``$GRPOKIT_CACHE`` as ``default-policy-<hash>``. In its own module so that the model
builder and the warm start do not import each other."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grpo_core.training.tiny_model import (
    INFO_FILE,
    DefaultPolicySpec,
    build_model,
    build_tokenizer,
    cache_root,
)
from grpo_core.training.warm_start import warm_start


def default_policy(
    spec: DefaultPolicySpec | None = None,
    *,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Path, dict[str, Any]]:
    """The cached default policy's directory and its build info, building it if missing."""
    spec = spec or DefaultPolicySpec()
    root = cache or cache_root()
    target = root / f"default-policy-{spec.digest()}"
    info_path = target / INFO_FILE
    if info_path.exists():
        info = json.loads(info_path.read_text())
        log(f"embedded default policy: cached at {target}")
        return target, {**info, "cached": True}
    log(f"embedded default policy: building (first run) into {target}")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        info = _build(spec, tmp, log)
        try:
            tmp.rename(target)
        except OSError:  # another process built it meanwhile: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, {**info, "cached": False}


def _build(spec: DefaultPolicySpec, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    start = time.perf_counter()
    tokenizer = build_tokenizer()
    model = build_model(spec.model, tokenizer, spec.seed)
    result = warm_start(model, tokenizer, spec, log=log)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    info = {
        "spec": json.loads(json.dumps(asdict(spec), default=str)),
        "parameters": params,
        "vocab_size": len(tokenizer),
        **result,
        "build_seconds": round(time.perf_counter() - start, 3),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2))
    return info
