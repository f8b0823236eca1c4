"""The probe library of ``grpo audit`` and the honest references probes are measured against.

``PROBES`` holds every generic probe: answer probes (``probes_answer``), format probes
(``probes_format``) and the code fake-pass family (``probes_code``). ``references`` gives the
honest completions of a row; the best score among them is the row's honest score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewards.audit import probes_answer, probes_code, probes_format
from rewards.audit.probe_base import THINK, Probe, Skip, Variant, dressed, fenced, gold_of

PROBES: tuple[Probe, ...] = probes_answer.PROBES + probes_format.PROBES + probes_code.PROBES


def probe_names() -> list[str]:
    return [p.name for p in PROBES]


def references(row: Mapping[str, Any], known_good: Sequence[str] = ()) -> list[Variant]:
    """Honest completions of ``row``: ``known_good`` (must-pass fixture completions for this
    row), its reference solution (``solution``; ``canonical_solution`` in a python block), and
    its gold answer alone, in answer tags, boxed, in a sentence and after ``####`` (without a
    gold: a filled think/answer template, the honest form for a format reward)."""
    out = [Variant(f"must-pass fixture {i + 1}", c) for i, c in enumerate(known_good)]
    solution = row.get("solution")
    if isinstance(solution, str) and solution.strip():
        out.append(Variant("solution", solution))
    canonical = row.get("canonical_solution")
    if isinstance(canonical, str) and canonical.strip():
        out.append(Variant("canonical_solution", fenced(canonical)))
    gold = gold_of(row)
    if gold is not None:
        out += dressed("gold", gold)
    else:
        out.append(Variant("template", f"<think>\n{THINK}\n</think>\n<answer>done</answer>"))
    return out


__all__ = ["PROBES", "Probe", "Skip", "Variant", "probe_names", "references"]
