"""Experiment trackers through accelerate: which to start for ``report_to`` and a check that an
explicitly requested one did start (TensorBoard is used when installed and nothing was asked)."""

from __future__ import annotations

from typing import Any


def requested(report_to: str) -> list[str] | None:
    """accelerate trackers for ``report_to`` ("auto": TensorBoard when installed, else none)."""
    import importlib.util

    names = [n.strip() for n in report_to.split(",") if n.strip()]
    if names in (["auto"], []):
        has_tb = any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX"))
        return ["tensorboard"] if has_tb else None
    if names == ["none"]:
        return None
    return names


def check_started(report_to: str, accelerator: Any) -> None:
    """An explicitly requested tracker that did not start (not installed) is an error."""
    wanted = set(requested(report_to) or []) if report_to.strip() != "auto" else set()
    started = {getattr(t, "name", "") for t in accelerator.trackers}
    missing = sorted(wanted - started)
    if missing:
        raise ValueError(
            f"report_to: tracker {missing[0]!r} did not start (is its package installed?); "
            f"use report_to=none or auto"
        )
