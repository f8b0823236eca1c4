"""Language consistency (DeepSeek-R1): the share of the chain of thought in the target language.

An ``r_aux`` term of the reward sum (textbook eq. 6.1)::

    r_lang = |{w in W : lang(w) = target}| / |W|

``W`` is the words of the chain of thought (the ``<think>`` block, else the text before
``</think>``, else the whole completion) after removing code (fenced blocks, inline backticks),
LaTeX (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``, math environments, ``\\commands``),
URLs, markup tags and numbers. A Han, Hiragana or Katakana character is one word; any other word
is a run of letters of one script.

``lang(w)`` comes from the script (Unicode character names): Han is ``zh`` (``ja`` in a sentence
that also has kana), kana is ``ja``, Hangul is ``ko``. A word in a script shared by several
candidate languages (Latin: en/fr/de/es...; Cyrillic: ru/uk/bg...) takes the language py3langid
picks for its sentence among those candidates. A sentence with fewer than ``min_words`` such words,
or whose pick has a probability (among the candidates) below ``min_confidence``, takes the pick
for all of them together; if that too is short or unsure, they are credited to the target (their
script matches it and there is no evidence against it). No countable word:
abstain. The target is the row's ``language`` field (ISO 639-1, ``zh-CN`` -> ``zh``) or the
``language`` option.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewards.verifier import Verifier, VerifyResult

#: script of each non-Latin language (Unicode name prefix); any other code is Latin-script
LANGUAGE_SCRIPTS: dict[str, str] = {
    "zh": "HAN", "ja": "KANA", "ko": "HANGUL", "el": "GREEK", "hy": "ARMENIAN", "ka": "GEORGIAN",
    **dict.fromkeys(("ru", "uk", "bg", "be", "mk", "sr", "kk", "ky", "mn", "tg"), "CYRILLIC"),
    **dict.fromkeys(("ar", "fa", "ur", "ps", "ug"), "ARABIC"),
    **dict.fromkeys(("he", "yi"), "HEBREW"),
    **dict.fromkeys(("hi", "mr", "ne", "sa"), "DEVANAGARI"),
    **dict.fromkeys(("bn", "as"), "BENGALI"),
    "th": "THAI", "ta": "TAMIL", "te": "TELUGU", "kn": "KANNADA", "ml": "MALAYALAM",
    "gu": "GUJARATI", "pa": "GURMUKHI", "or": "ORIYA", "si": "SINHALA", "km": "KHMER", "lo": "LAO",
    "am": "ETHIOPIC", "my": "MYANMAR", "bo": "TIBETAN",
}  # fmt: skip
#: languages a same-script sentence may be attributed to, besides the target
DEFAULT_CANDIDATES: tuple[str, ...] = (
    *("en", "fr", "de", "es", "it", "pt", "nl"),
    *("ru", "uk", "bg"),
    *("ar", "fa", "ur"),
    *("hi", "mr", "ne"),
)
_CJK_SCRIPTS = ("HAN", "KANA", "HANGUL")
_CJK_LANGUAGES = {"KANA": "ja", "HANGUL": "ko"}
_SCRIPT_ALIASES = {
    "CJK": "HAN",
    "IDEOGRAPHIC": "HAN",
    "HIRAGANA": "KANA",
    "KATAKANA": "KANA",
    "KATAKANA-HIRAGANA": "KANA",
}
_CODE = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*")
_NOT_PROSE = re.compile(
    r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`"  # code
    r"|https?://\S+|www\.\S+"  # URLs
    r"|\$\$.*?\$\$|\\\[.*?\\\]|\\\(.*?\\\)"  # display and inline LaTeX
    r"|\\begin\{(\w+\*?)\}.*?\\end\{\1\}"  # LaTeX environments
    r"|\$(?!\s)(?:\\.|[^$\\])+?(?<!\s)\$(?!\d)"  # $...$ (not "$5 and $10")
    r"|\\[A-Za-z]+\*?"  # \commands
    r"|</?[A-Za-z][\w-]*\s*/?>",  # markup tags
    re.DOTALL,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])(?=\s)|[。！？；\n]")
_LETTERS = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def normalize_language(value: object) -> str:
    """``'zh-CN'`` -> ``'zh'``; a ValueError for anything that is not an ISO 639 code."""
    m = _CODE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{value!r} is not an ISO 639-1 language code such as 'en' or 'zh'")
    return m.group(1).lower()


def script_of_language(code: str) -> str:
    return LANGUAGE_SCRIPTS.get(code, "LATIN")


@functools.lru_cache(maxsize=16384)
def script_of(char: str) -> str:
    """Script of one letter from its Unicode name: 'LATIN', 'HAN', 'KANA', 'CYRILLIC'..."""
    first = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(first, first)


def chain_of_thought(completion: str) -> str:
    """The ``<think>`` block (to the end if unclosed), else text before ``</think>``, else all."""
    head, sep, rest = completion.partition("<think>")
    if sep:
        return rest.partition("</think>")[0]
    before, sep, _ = head.partition("</think>")
    return before if sep else completion


def prose(text: str) -> str:
    """``text`` without code, LaTeX, URLs and markup (each replaced by a space)."""
    return _NOT_PROSE.sub(" ", unicodedata.normalize("NFKC", text))


def words(sentence: str) -> list[tuple[str, str]]:
    """``(script, word)`` pairs; every Han or kana character is a word of its own.

    Linear in the length of the text (words are sliced, never grown a character at a time)."""
    out: list[tuple[str, str]] = []
    for match in _LETTERS.finditer(sentence):
        word, start, script = match.group(), 0, ""
        for i, char in enumerate(word):
            if not char.isalpha():  # an apostrophe or hyphen inside a word
                continue
            char_script = script_of(char)
            if i > start and (char_script != script or script in ("HAN", "KANA")):
                out.append((script, word[start:i]))
                start = i
            script = char_script
        if start < len(word):
            out.append((script, word[start:]))
    return out


@functools.cache
def _identifier() -> Any:
    """py3langid's identifier, loaded once per process (its model ships inside the package)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(text: str, candidates: frozenset[str]) -> tuple[str, float]:
    """The most likely of ``candidates`` for ``text`` (py3langid) and its probability among them."""
    ranked = [(lang, p) for lang, p in _identifier().rank(text) if lang in candidates]
    total = sum(p for _, p in ranked)
    return ranked[0][0], (ranked[0][1] / total if total > 0 else 0.0)


def supported_languages() -> frozenset[str]:
    return frozenset(_identifier().labels)


@dataclass(frozen=True)
class LanguageOptions:
    """``language``: the target when a row has none (or always, with ``override``); ``field``:
    the row field holding the target; ``candidates``: languages a same-script sentence may be
    attributed to; ``min_words``: fewest same-script words for a sentence to be judged alone;
    ``min_confidence``: least probability for py3langid's pick to be believed."""

    language: str | None = None
    override: bool = False
    field: str = "language"
    candidates: tuple[str, ...] = DEFAULT_CANDIDATES
    min_words: int = 4
    min_confidence: float = 0.8

    def __post_init__(self) -> None:
        if self.language is not None:
            try:
                object.__setattr__(self, "language", normalize_language(self.language))
            except ValueError as exc:
                raise ValueError(f"option 'language': {exc}") from exc
        if self.override and self.language is None:
            raise ValueError("option 'override' needs option 'language'")
        if not isinstance(self.field, str) or not self.field:
            raise ValueError(f"option 'field' must be a non-empty string, got {self.field!r}")
        if isinstance(self.candidates, str) or not isinstance(self.candidates, (list, tuple)):
            raise ValueError(f"option 'candidates' must be a list of codes: {self.candidates!r}")
        try:
            codes = tuple(dict.fromkeys(normalize_language(c) for c in self.candidates))
        except ValueError as exc:
            raise ValueError(f"option 'candidates': {exc}") from exc
        object.__setattr__(self, "candidates", codes)
        if isinstance(self.min_words, bool) or not isinstance(self.min_words, int):
            raise ValueError(f"option 'min_words' must be an integer, got {self.min_words!r}")
        if self.min_words < 1:
            raise ValueError(f"option 'min_words' must be >= 1, got {self.min_words}")
        conf = self.min_confidence
        if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 <= conf <= 1:
            raise ValueError(f"option 'min_confidence' must be a number in [0, 1], got {conf!r}")


class LanguageVerifier(Verifier):
    """Fraction of chain-of-thought words written in the target language (DeepSeek-R1)."""

    name = "language"
    kind = "aux"
    description = "share of chain-of-thought words in the task's language (ISO 639-1)"
    Options = LanguageOptions

    def verify(self, completion: str, row: Mapping[str, Any]) -> VerifyResult:
        opts: LanguageOptions = self.options
        value = row.get(opts.field)
        if opts.override or value is None:
            value = opts.language
        if value is None:
            return VerifyResult.failure(
                f"missing task field {opts.field!r} (and no 'language' option)"
            )
        try:
            target = normalize_language(value)
        except ValueError as exc:
            return VerifyResult.failure(f"task field {opts.field!r}: {exc}")
        labels = label_words(chain_of_thought(completion), target, opts)
        if isinstance(labels, str):
            return VerifyResult.failure(labels)
        if not labels:
            return VerifyResult.abstain("no countable words in the chain of thought")
        counts = Counter(labels)
        share = counts[target] / len(labels)
        others = ", ".join(f"{k} {n}" for k, n in counts.most_common() if k != target)
        reason = f"{counts[target]}/{len(labels)} words in {target!r}"
        return VerifyResult(share, reason + (f" (others: {others})" if others else ""))


def label_words(cot: str, target: str, opts: LanguageOptions) -> list[str] | str:
    """A language (or script) label per countable word, or an error message."""
    target_script = script_of_language(target)
    rivals = frozenset(
        c for c in (*opts.candidates, target) if script_of_language(c) == target_script
    )
    sentences = [words(s) for s in _SENTENCE_END.split(prose(cot))]
    if rivals != {target} and target_script not in _CJK_SCRIPTS:
        unknown = sorted(rivals - supported_languages())
        if unknown:
            return f"language {unknown[0]!r} is not supported by py3langid"
    else:
        rivals = frozenset()
    same_script = [[w for s, w in ws if s == target_script] for ws in sentences]
    everything = [w for ws in same_script for w in ws]
    overall = _decide(everything, rivals, target, opts)
    labels: list[str] = []
    for ws, same in zip(sentences, same_script, strict=True):
        sentence_lang = _decide(same, rivals, overall, opts)
        has_kana = any(script == "KANA" for script, _ in ws)
        for script, _ in ws:
            labels.append(_label(script, target_script, sentence_lang, has_kana))
    return labels


def _decide(ws: list[str], rivals: frozenset[str], fallback: str, opts: LanguageOptions) -> str:
    """py3langid's pick for ``ws`` if they are enough words and it is sure enough, else fallback."""
    if not rivals or len(ws) < opts.min_words:
        return fallback
    lang, confidence = identify(" ".join(ws), rivals)
    return lang if confidence >= opts.min_confidence else fallback


def _label(script: str, target_script: str, sentence_lang: str, kana: bool) -> str:
    """A word's label: its language (Han, kana, Hangul, the target's script), else its script."""
    if script == "HAN":
        return "ja" if kana else "zh"
    if script in _CJK_LANGUAGES:
        return _CJK_LANGUAGES[script]
    return sentence_lang if script == target_script else script.lower()
