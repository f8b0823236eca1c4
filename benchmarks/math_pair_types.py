"""Answer types of the math-verification benchmark: one generator per category, each giving
(gold, final answer text, label), and the reasoning text a final answer is dressed in.

Used by ``math_pairs.make_pairs``; ``label`` follows the ``math`` verifier's documented rules
(``math_pairs``'s docstring).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

R = random.Random
Gen = Callable[[R], tuple[str, str, int]]  # (gold, final answer text, label)

# -- completion dressing --------------------------------------------------------------------

_STEPS = (
    "First we compute {a} + {b} = {c}.",
    "Multiplying both sides by {a} gives {c}.",
    "Let $x$ be the unknown; then $x + {a} = {c}$.",
    "We check the case $n = {a}$ separately.",
    "Substituting $t = {b}$ into the expression simplifies things.",
    "So the intermediate value is ${c}$, which we use below.",
    "By symmetry the two halves contribute equally.",
    "Note that {a} and {b} are coprime.",
)
_FINALS = (
    "Therefore, the final answer is $\\boxed{{{x}}}$.",
    "So the answer is $\\boxed{{{x}}}$. I hope it is correct.",
    "Final Answer: The final answer is ${x}$. I hope it is correct.",
    "**Final Answer:** ${x}$",
    "The answer is ${x}$.",
    "\\[\\boxed{{{x}}}\\]",
)


def reasoning(rng: R) -> str:
    steps = []
    for _ in range(rng.randint(1, 5)):
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        steps.append(rng.choice(_STEPS).format(a=a, b=b, c=a + b))
    return " ".join(steps)


def dress(rng: R, answer: str) -> str:
    return f"{reasoning(rng)}\n{rng.choice(_FINALS).format(x=answer)}"


# -- answer types ---------------------------------------------------------------------------


def _integer(rng: R) -> tuple[str, str, int]:
    n = rng.choice([rng.randint(0, 99), rng.randint(100, 9999), -rng.randint(1, 50)])
    good = [str(n), f"{n}.0", f"x = {n}", f"{n:,}" if abs(n) >= 1000 else f"{n}", f"{{{n}}}"]
    bad = [str(n + rng.choice([-2, -1, 1, 2, 10])), str(-n if n else 7), f"{n}.5"]
    return _pick(rng, str(n), good, bad)


def _near_integer(rng: R) -> tuple[str, str, int]:
    n = rng.randint(1, 500)
    return str(n), f"{n}.0000001" if rng.random() < 0.5 else f"{n - 1}.9999999", 0


def _decimal(rng: R) -> tuple[str, str, int]:
    num, den = rng.choice([(1, 2), (1, 4), (3, 4), (5, 2), (7, 8), (1, 5), (13, 4), (9, 20)])
    value = num / den
    gold = f"{value:g}"
    good = [f"\\frac{{{num}}}{{{den}}}", f"{num}/{den}", gold, f"{value:.4f}"]
    bad = [f"{value + 0.1:g}", f"{value * 10:g}", f"\\frac{{{den}}}{{{num}}}"]
    return _pick(rng, gold, good, bad)


_CONSTANTS = (("\\pi", math.pi), ("\\sqrt{2}", 2**0.5), ("e", math.e), ("\\sqrt{3}", 3**0.5))


def _approx_gold(rng: R) -> tuple[str, str, int]:
    symbol, value = rng.choice(_CONSTANTS)
    places = rng.randint(2, 4)
    gold = f"{value:.{places}f}"
    good = [f"{value:.{places + 3}f}", f"{value:.{places}f}", symbol]
    bad = [f"{value:.{places - 1}f}" if round(value, places - 1) != float(gold) else "1.5"]
    bad.append(f"{float(gold) + 3 * 10**-places:.{places}f}")
    return _pick(rng, gold, good, bad)


def _fraction(rng: R) -> tuple[str, str, int]:
    den = rng.choice([3, 7, 9, 11, 13])
    num = rng.choice([k for k in range(1, den) if math.gcd(k, den) == 1])
    k = rng.randint(2, 5)
    gold = f"\\frac{{{num}}}{{{den}}}"
    good = [f"\\dfrac{{{num}}}{{{den}}}", f"{num}/{den}", f"\\frac{{{k * num}}}{{{k * den}}}"]
    bad = [f"\\frac{{{den}}}{{{num}}}", f"\\frac{{{num + 1}}}{{{den}}}", f"{num}/{den + 1}"]
    return _pick(rng, gold, good, bad)


def _approx_of_exact(rng: R) -> tuple[str, str, int]:
    num, den = rng.choice([(1, 3), (2, 3), (1, 7), (5, 9), (1, 6)])
    places = rng.choice([3, 6, 7])
    return f"\\frac{{{num}}}{{{den}}}", f"{num / den:.{places}f}", 0


_EXPRS = (
    ("2\\sqrt{3}", ["\\sqrt{12}", "2 \\sqrt 3"], ["3\\sqrt{2}", "\\sqrt{6}"]),
    ("\\frac{\\sqrt{2}}{2}", ["\\frac{1}{\\sqrt{2}}", "\\frac{1}{2}\\sqrt{2}"], ["\\sqrt{2}"]),
    ("3\\pi", ["\\pi \\cdot 3", "3 \\pi"], ["\\frac{3}{\\pi}", "6\\pi"]),
    ("\\frac{\\pi}{4}", ["\\frac{1}{4}\\pi", "0.25\\pi"], ["\\frac{\\pi}{2}", "4\\pi"]),
    ("1+\\sqrt{5}", ["\\sqrt{5}+1"], ["1-\\sqrt{5}", "\\sqrt{6}"]),
    ("\\frac{1+\\sqrt{5}}{2}", ["\\frac{\\sqrt{5}+1}{2}"], ["\\frac{1-\\sqrt{5}}{2}"]),
    ("4\\sqrt{2}", ["\\sqrt{32}", "2\\sqrt{8}"], ["2\\sqrt{2}", "\\sqrt{16}"]),
    ("\\log_2 3", ["\\frac{\\ln 3}{\\ln 2}"], ["\\log_3 2"]),
    ("2e^{3}", ["2 e^3"], ["3e^{2}"]),
)


def _latex_expr(rng: R) -> tuple[str, str, int]:
    gold, good, bad = rng.choice(_EXPRS)
    return _pick(rng, gold, good, bad)


def _symbolic(rng: R) -> tuple[str, str, int]:
    a, b = rng.randint(1, 6), rng.randint(1, 6)
    gold = f"x^2+{a + b}x+{a * b}"
    good = [f"(x+{a})(x+{b})", f"(x+{b})(x+{a})", f"{a * b}+{a + b}x+x^2"]
    bad = [f"(x+{a})(x+{b + 1})", f"(x-{a})(x-{b})"]
    if a * b != a + b:
        bad.append(f"x^2+{a * b}x+{a + b}")
    if rng.random() < 0.3:
        gold = f"\\frac{{x^2-{a * a}}}{{x-{a}}}"
        good, bad = [f"x+{a}"], [f"x-{a}", f"x+{a + 1}"]
    return _pick(rng, gold, good, bad)


def _percent(rng: R) -> tuple[str, str, int]:
    p = rng.choice([5, 10, 12, 20, 25, 40, 50, 75])
    gold = f"{p}\\%"
    good = [f"{p}\\%", f"{p}%", f"{p / 100:g}", str(p)]
    bad = [f"{p + 5}\\%", f"{p / 10:g}", f"{p + 1}"]
    return _pick(rng, gold, good, bad)


def _set(rng: R) -> tuple[str, str, int]:
    items = rng.sample(range(-9, 20), rng.randint(2, 4))
    gold = "\\{" + ", ".join(map(str, items)) + "\\}"
    shuffled = items[:]
    rng.shuffle(shuffled)
    good = ["\\{" + ",".join(map(str, shuffled)) + "\\}", ", ".join(map(str, shuffled))]
    changed = items[:-1] + [items[-1] + 1]
    bad = [
        "\\{" + ", ".join(map(str, items[:-1])) + "\\}",
        "\\{" + ", ".join(map(str, changed)) + "\\}",
    ]
    return _pick(rng, gold, good, bad)


def _interval(rng: R) -> tuple[str, str, int]:
    a = rng.randint(-10, 5)
    b = a + rng.randint(1, 10)
    lo, hi = rng.choice("[("), rng.choice("])")
    hi_text = rng.choice([str(b), "\\infty"]) if hi == ")" else str(b)
    gold = f"{lo}{a}, {hi_text}{hi}"
    flip = {"[": "(", "(": "[", "]": ")", ")": "]"}
    good = [f"{lo}{a},{hi_text}{hi}", f"\\left{lo} {a}, {hi_text} \\right{hi}"]
    bad = [f"{flip[lo]}{a}, {hi_text}{hi}", f"{lo}{a + 1}, {hi_text}{hi}"]
    return _pick(rng, gold, good, bad)


def _tuple(rng: R) -> tuple[str, str, int]:
    a, b = rng.sample(range(-9, 15), 2)
    gold = f"({a}, {b})"
    good = [f"({a},{b})", f"\\left( {a}, {b} \\right)"]
    bad = [f"({b}, {a})", f"({a}, {b + 1})"]
    return _pick(rng, gold, good, bad)


def _matrix(rng: R) -> tuple[str, str, int]:
    m = [rng.randint(-5, 9) for _ in range(4)]

    def mat(env: str, v: list[int]) -> str:
        return f"\\begin{{{env}}} {v[0]} & {v[1]} \\\\ {v[2]} & {v[3]} \\end{{{env}}}"

    good = [mat("bmatrix", m), mat("pmatrix", m)]
    bad = [mat("pmatrix", [m[0], m[2], m[1], m[3]] if m[1] != m[2] else [m[0] + 1, *m[1:]])]
    return _pick(rng, mat("pmatrix", m), good, bad)


def _equation(rng: R) -> tuple[str, str, int]:
    m, c = rng.sample(range(2, 10), 2)  # distinct, so "y = cx + m" is really wrong
    if rng.random() < 0.5:
        n = rng.randint(-20, 40)
        return _pick(rng, str(n), [f"x = {n}", f"x={n}"], [f"x = {n + 1}", f"y = {n - 3}"])
    gold = f"y = {m}x + {c}"
    good = [f"y = {c} + {m}x", f"y={m}x+{c}"]
    bad = [f"y = {m}x - {c}", f"y = {c}x + {m}"]
    return _pick(rng, gold, good, bad)


def _units(rng: R) -> tuple[str, str, int]:
    n = rng.randint(2, 500)
    unit = rng.choice(
        ["\\text{ cm}", "\\text{ meters}", " dollars", "^\\circ", " km", "\\text{ kg}"]
    )
    good = [f"{n}{unit}", f"\\${n}" if "dollars" in unit else f"{n} \\text{{units}}"]
    return _pick(rng, str(n), good, [f"{n + 1}{unit}", f"{n * 10}{unit}"])


_WORDS = (
    ["yes", "no"],
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    ["red", "blue", "green"],
    ["even", "odd"],
)


def _text(rng: R) -> tuple[str, str, int]:
    group = rng.choice(_WORDS)
    gold = rng.choice(group)
    good = [gold.lower(), gold.upper(), f"\\text{{{gold}}}", gold.capitalize()]
    return _pick(rng, gold, good, [w for w in group if w != gold])


def _choice(rng: R) -> tuple[str, str, int]:
    gold = rng.choice("ABCDE")
    good = [gold, f"({gold})", f"\\text{{({gold})}}", f"{gold})"]
    return _pick(rng, gold, good, [c for c in "ABCDE" if c != gold])


def _text_anagram(rng: R) -> tuple[str, str, int]:
    gold, wrong = rng.choice(
        [("yes", "sey"), ("Tuesday", "Dayseut"), ("even", "neve"), ("abc", "cab")]
    )
    return gold, wrong, 0


def _empty_set(rng: R) -> tuple[str, str, int]:
    gold = rng.choice(["\\varnothing", "\\emptyset"])
    return _pick(rng, gold, ["\\emptyset", "\\varnothing", "\\{\\}"], ["\\{0\\}", "0"])


def _tiny(rng: R) -> tuple[str, str, int]:
    k = rng.randint(60, 140)
    if rng.random() < 0.5:
        return f"\\frac{{1}}{{2^{{{k}}}}}", f"\\frac{{1}}{{2^{{{k + rng.choice([-1, 1])}}}}}", 0
    return _pick(rng, f"10^{{-{k}}}", [f"\\frac{{1}}{{10^{{{k}}}}}"], [f"10^{{-{k + 1}}}"])


def _known_limits(rng: R) -> tuple[str, str, int]:
    """Correct answers that neither verifier accepts (kept to show the limits honestly)."""
    n = rng.randint(2, 9)
    words = ["two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return rng.choice(
        [
            ("\\frac{\\sqrt{3}}{2}", rng.choice(["\\sin 60^\\circ", "\\cos 30^{\\circ}"]), 1),
            (str(n), words[n - 2], 1),
            (f"[{n}, \\infty)", f"x \\ge {n}", 1),
        ]
    )


def _pick(rng: R, gold: str, good: list[str], bad: list[str]) -> tuple[str, str, int]:
    if rng.random() < 0.5:
        return gold, rng.choice(good), 1
    return gold, rng.choice(bad), 0


TYPES: dict[str, tuple[float, Gen]] = {
    "integer": (10, _integer),
    "near_integer": (1.5, _near_integer),
    "decimal": (6, _decimal),
    "approx_gold": (5, _approx_gold),
    "fraction": (7, _fraction),
    "approx_of_exact": (3, _approx_of_exact),
    "latex_expr": (7, _latex_expr),
    "symbolic": (6, _symbolic),
    "percent": (4, _percent),
    "set": (5, _set),
    "interval": (5, _interval),
    "tuple": (4, _tuple),
    "matrix": (3, _matrix),
    "equation": (5, _equation),
    "units": (4, _units),
    "text": (4, _text),
    "choice": (3, _choice),
    "text_anagram": (0.7, _text_anagram),
    "empty_set": (1.5, _empty_set),
    "tiny": (2, _tiny),
    "known_limits": (1, _known_limits),
}
