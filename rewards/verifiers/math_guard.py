"""Guards for the ``math`` verifier: refuse explosive expressions, bound the time sympy may take.

``explosive(text)`` looks at an answer string *before* sympy sees it and names what would make
evaluation blow up: power towers and huge integer powers (``9^9^9^9``, ``10^{10^{10}}``), huge
factorials or binomials, sums/products over huge ranges, and deep bracket nesting. Python's big
integer arithmetic runs in C and cannot be interrupted by a signal, so these must be caught
here, not by a timeout.

``time_limit(seconds)`` raises ``TimeLimitExceeded`` (a ``BaseException``, so that the broad
``except Exception`` blocks in sympy and math_verify cannot swallow it) when the process has
spent ``seconds`` of CPU time in the block (a ``SIGPROF`` timer, ``ITIMER_PROF``). CPU time, not
wall time: on a loaded machine a comparison waits for a core without using its budget, so the
same comparison gets the same verdict however busy the machine is (a wall-clock limit made
comparisons near the limit pass or time out from run to run). The batch scorer's per-item kill
is the wall-clock backstop. Signals only work in the main thread, and one process has one
profiling timer: in any other thread, or when that timer is already running (a profiler, a
caller's own), it does nothing and the caller relies on ``explosive`` plus the per-item kill.
"""

from __future__ import annotations

import math
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: a power may have at most this many digits
MAX_POWER_DIGITS = 10_000
#: a power of a non-numeric base, e.g. (x+1)^N, may have at most this exponent
MAX_SYMBOLIC_EXPONENT = 100_000
#: n! and binomial(n, k) are refused for n above this
MAX_FACTORIAL = 10_000
#: sums and products may not mention numbers above this
MAX_RANGE = 10_000
MAX_DEPTH = 40
#: x^{y^{z}} is 2 levels of exponents; more than this many is refused
MAX_EXPONENT_DEPTH = 2

_NUM = r"(?:\d+(?:\.\d+)?|\uE000\d+\uE001)"
# base ^ exponent with numeric operands; the exponent may be braced and negative
_POWER_RE = re.compile(
    rf"(?=((?<![\d.\uE001])(?P<paren>\(\s*)?(?P<base>{_NUM})\s*(?(paren)\))\s*(?:\^|\*\*)\s*(?P<brace>\{{)?\s*(?P<sign>-)?\s*"
    rf"(?P<exp>{_NUM})\s*(?(brace)\}})))"
)
_SYMBOLIC_POWER_RE = re.compile(r"(?:\^|\*\*)\s*\{?\s*-?\s*(\d{6,}|\uE000\d+\uE001)")
_FACTORIAL_RE = re.compile(rf"(?:\(\s*({_NUM})\s*\)|({_NUM}))\s*!")
_BINOM_RE = re.compile(r"\\[dt]?binom\s*\{([^{}]*)\}")
_BIG_NUMBER_RE = re.compile(r"\d{5,}|\uE000\d+\uE001")


class TimeLimitExceeded(BaseException):
    """The ``time_limit`` budget ran out."""


def explosive(text: str) -> str | None:
    """Why evaluating ``text`` could explode, or None when it looks safe."""
    depth = _max_depth(text)
    if depth > MAX_DEPTH:
        return f"brackets nested {depth} deep (limit {MAX_DEPTH})"
    text, sizes, why = _fold_powers(text)
    if why:
        return why

    def too_big(token: str, limit: float) -> bool:
        return _log10_of(token, sizes) > math.log10(limit)

    if _exponent_depth(text) > MAX_EXPONENT_DEPTH:
        return "power tower"
    m = _SYMBOLIC_POWER_RE.search(text)
    if m and too_big(m.group(1), MAX_SYMBOLIC_EXPONENT):
        return "power with a huge exponent"
    if any(too_big(m.group(1) or m.group(2), MAX_FACTORIAL) for m in _FACTORIAL_RE.finditer(text)):
        return "huge factorial"
    if re.search(r"[)}]\s*!\s*\)?\s*!", text):
        return "nested factorial"
    for m in _BINOM_RE.finditer(text):
        if any(too_big(n, MAX_FACTORIAL) for n in _BIG_NUMBER_RE.findall(m.group(1))):
            return "huge binomial coefficient"
    if re.search(r"\\(?:sum|prod)", text) and any(
        too_big(n, MAX_RANGE) for n in _BIG_NUMBER_RE.findall(text)
    ):
        return "sum or product over a huge range"
    return None


def _exponent_depth(text: str) -> int:
    """How deeply exponents nest: ``x^{y^{z}}`` and the chain ``x^y^z`` are 2, ``x^2y^2`` 1."""
    braced = re.sub(r"\^\s*(\\[a-zA-Z]+|[^\s{\\])", r"^{\1}", text)  # x^2 -> x^{2}
    chains = re.findall(r"(?:\^\{[^{}]*\}\s*)+", braced)
    best = max((c.count("^") for c in chains), default=0)
    frames: list[bool] = []  # open braces: is it an exponent?
    for m in re.finditer(r"\\[{}]|\^\{|[{}]", braced):
        tok = m.group()
        if tok in ("^{", "{"):
            frames.append(tok == "^{")
            best = max(best, sum(frames))
        elif tok == "}" and frames:
            frames.pop()
    return best


def _max_depth(text: str) -> int:
    depth = best = 0
    for ch in re.sub(r"\\[{}]", "", text):
        if ch in "([{":
            depth += 1
            best = max(best, depth)
        elif ch in ")]}":
            depth -= 1
    return best


def _fold_powers(text: str) -> tuple[str, dict[str, float], str | None]:
    """Size numeric powers right to left in log10 magnitude, replacing each by a placeholder.

    ``9^9^9`` sizes ``9^9`` (9 digits) first, then sees ``9^387420489`` (370 million digits)
    and stops with a reason. Nothing is computed exactly: only ``exponent * log10(base)``.
    Returns the folded text, each placeholder's log10 size, and the reason (or None).
    """
    sizes: dict[str, float] = {}
    for _ in range(200):
        m = max(_POWER_RE.finditer(text), key=lambda m: m.start(1), default=None)
        if m is None:
            return text, sizes, None
        base = _log10_of(m.group("base"), sizes)
        exponent = _log10_of(m.group("exp"), sizes)
        if base in (0.0, -math.inf) or exponent == -math.inf:
            digits = 0.0  # 1^n, 0^n, n^0
        elif exponent > 15:
            return text, sizes, "power tower"
        else:
            digits = (10**exponent) * base  # log10 of the power
        if abs(digits) > MAX_POWER_DIGITS:
            return text, sizes, f"power with about {abs(digits):.3g} digits"
        key = f"\ue000{len(sizes)}\ue001"
        sizes[key] = -digits if m.group("sign") else digits
        text = text[: m.start(1)] + key + text[m.end(1) :]
    return text, sizes, "too many powers"


def _log10_of(token: str, sizes: dict[str, float]) -> float:
    """log10 |value| of a numeral, or the stored size of a placeholder (its absolute value,
    so that a tiny power counts as big as its reciprocal)."""
    if token.startswith("\ue000"):
        return abs(sizes.get(token, math.inf))
    value = float(token) if len(token) < 300 else math.inf
    return math.log10(value) if value > 0 else -math.inf


# -- time limit -----------------------------------------------------------------------------


#: the CPU-time timer and its signal
TIMER, SIGNAL = getattr(signal, "ITIMER_PROF", None), getattr(signal, "SIGPROF", None)


def alarm_usable() -> bool:
    """True in the main thread when the CPU-time timer exists and is not already running."""
    if threading.current_thread() is not threading.main_thread() or TIMER is None:
        return False
    try:
        return signal.getitimer(TIMER)[0] == 0.0
    except (AttributeError, OSError, ValueError):  # no SIGPROF on this platform
        return False


_armed = False  # a time_limit of ours owns the timer (main thread only)


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Raise ``TimeLimitExceeded`` in the block after ``seconds`` of CPU time; yields whether
    it is armed."""
    global _armed
    if seconds <= 0 or _armed or not alarm_usable():
        yield False
        return

    def on_alarm(signum: int, frame: object) -> None:
        if _armed:
            raise TimeLimitExceeded(f"time limit of {seconds:g}s exceeded")

    previous = signal.signal(SIGNAL, on_alarm)
    _armed = True
    signal.setitimer(TIMER, seconds)
    try:
        yield True
    finally:
        _armed = False
        signal.setitimer(TIMER, 0)
        signal.signal(SIGNAL, previous)


@contextmanager
def paused() -> Iterator[None]:
    """Stop the ``time_limit`` clock for the block: an import cut short by the alarm would leave
    half-initialised modules behind, so imports run outside the budget."""
    if not _armed or threading.current_thread() is not threading.main_thread():
        yield
        return
    remaining, _ = signal.setitimer(TIMER, 0)
    try:
        yield
    finally:
        if _armed and remaining > 0:
            signal.setitimer(TIMER, remaining)
