"""The ``language`` verifier: language consistency of the chain of thought (real py3langid)."""

import pytest

from rewards.verifiers import language as lang_mod
from rewards.verifiers.language import (
    LanguageVerifier,
    chain_of_thought,
    normalize_language,
    prose,
    words,
)

EN = (
    "Let me work through this carefully. We need the sum of the first ten positive integers. "
    "Using the formula for an arithmetic series, the sum is $\\frac{n(n+1)}{2}$ with $n = 10$. "
    "That gives 55. Let me double check by pairing the terms: 1 + 10, 2 + 9, and so on.\n"
    "Each pair adds up to 11 and there are five pairs, so the total is indeed 55."
)
ZH = "我们需要求前十个正整数的和。根据等差数列求和公式，结果是五十五。再检查一遍，答案正确。"
FR = (
    "Nous cherchons la somme des dix premiers entiers positifs. D'après la formule de la série "
    "arithmétique, la somme vaut cinquante-cinq. Vérifions en regroupant les termes par paires."
)
DE = (
    "Wir suchen die Summe der ersten zehn positiven ganzen Zahlen. Nach der Formel für "
    "arithmetische Reihen ist die Summe fünfundfünfzig. Wir prüfen das, indem wir die Glieder "
    "paarweise zusammenfassen."
)
ES = (
    "Buscamos la suma de los diez primeros enteros positivos. Según la fórmula de la serie "
    "aritmética, la suma es cincuenta y cinco. Lo comprobamos agrupando los términos en parejas."
)
JA = "まず、最初の十個の正の整数の和を求めます。公式を使うと答えは五十五です。"
RU = (
    "Нам нужно найти сумму первых десяти натуральных чисел. "
    "По формуле арифметической прогрессии получаем пятьдесят пять."
)
TEXTS = {"en": EN, "zh": ZH, "fr": FR, "de": DE, "es": ES, "ja": JA, "ru": RU}


def score(completion, language, **options):
    result = LanguageVerifier(**options)(completion, {"language": language})
    assert result.error is None, result.error
    return result


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_a_chain_of_thought_in_the_target_language_scores_one(code):
    result = score(f"<think>{TEXTS[code]}</think><answer>55</answer>", code)
    assert result.score == 1.0, result.reason


@pytest.mark.parametrize(
    ("written", "target"),
    [("fr", "en"), ("de", "en"), ("es", "en"), ("en", "fr"), ("en", "de"), ("de", "es")]
    + [("en", "zh"), ("zh", "en"), ("ja", "zh"), ("zh", "ja"), ("ru", "en"), ("zh", "ko")],
)
def test_a_chain_of_thought_in_another_language_scores_zero(written, target):
    result = score(f"<think>{TEXTS[written]}</think>", target)
    assert result.score == 0.0, result.reason


def test_half_english_half_chinese_scores_one_half():
    english = "we add the two numbers and then divide the result by two"  # 12 words
    chinese = "我们把两个数相加然后除以二得到"  # 15 characters
    completion = f"<think>{english}。{chinese}{'。' * 3}</think>"
    en, zh = score(completion, "en"), score(completion, "zh")
    assert en.score == pytest.approx(12 / 27)
    assert zh.score == pytest.approx(15 / 27)
    assert en.reason == "12/27 words in 'en' (others: zh 15)"
    balanced = f"<think>{english}, and check it.\n{chinese}</think>"  # 15 + 15
    assert score(balanced, "en").score == 0.5
    assert score(balanced, "zh").score == 0.5


def test_one_french_sentence_in_an_english_chain_of_thought_is_counted_as_french():
    completion = (
        "<think>Let me think about this problem carefully. Je pense que la réponse est cinq. "
        "So the final answer is five.</think>"
    )
    result = score(completion, "en")
    assert result.score == pytest.approx(13 / 20)  # 7 + 6 English words, 7 French
    assert "fr 7" in result.reason
    assert score(completion, "fr").score == pytest.approx(7 / 20)


def test_short_interjections_follow_the_chain_of_thought_language():
    completion = "<think>Hmm. OK. " + FR + " Bon.</think>"
    assert score(completion, "fr").score == 1.0
    assert score("<think>Hmm, wait.</think>", "en").score == 1.0  # too short to doubt


def test_code_latex_urls_and_numbers_do_not_count():
    cot = (
        "我们计算 $\\sum_{i=1}^{10} i = 55$ 和 \\(x^2 + y^2\\) 以及 \\[\\int_0^1 f(x)\\,dx\\]。"
        "参见 https://example.com/some/english/path 和 `print(sum(range(11)))`。\n"
        "```python\ndef total(n):\n    return n * (n + 1) // 2\n```\n"
        "$$\\text{the sum is fifty five}$$ \\begin{align} a &= b \\end{align} 12345 \\quad 完成"
    )
    result = score(f"<think>{cot}</think>", "zh")
    assert result.score == 1.0
    assert result.reason == "12/12 words in 'zh'"


def test_dollar_amounts_are_not_mistaken_for_latex():
    result = score("<think>It costs $5 and the other one costs $10 in total.</think>", "en")
    assert result.reason == "9/9 words in 'en'"


def test_only_the_think_block_is_judged():
    completion = f"<think>{EN}</think><answer>答案是五十五</answer>"
    assert score(completion, "en").score == 1.0
    assert score(f"{EN}</think>答案是五十五", "en").score == 1.0  # template opened <think>
    assert score(f"<think>{EN}", "en").score == 1.0  # truncated, never closed
    assert score(f"{EN} 答案是五十五", "en").score < 1.0  # no tags: the whole completion


@pytest.mark.parametrize(
    "completion", ["", "<think></think>", "<think>$x^2$ 42 `code` https://a.b/c</think>"]
)
def test_no_countable_words_abstains(completion):
    result = score(completion, "en")
    assert result.score is None
    assert result.reason == "no countable words in the chain of thought"


def test_target_comes_from_the_row_or_the_option():
    completion = f"<think>{FR}</think>"
    assert LanguageVerifier()(completion, {"language": "fr-FR"}).score == 1.0
    assert LanguageVerifier(language="fr")(completion, {}).score == 1.0
    assert LanguageVerifier(language="en")(completion, {"language": "fr"}).score == 1.0
    assert LanguageVerifier(language="en", override=True)(completion, {"language": "fr"}).score == 0
    assert LanguageVerifier(field="locale")(completion, {"locale": "FR"}).score == 1.0


def test_missing_or_bad_target_is_an_error_result():
    missing = LanguageVerifier()("<think>hello there</think>", {"answer": "5"})
    assert missing.score == 0.0
    assert missing.error == "missing task field 'language' (and no 'language' option)"
    bad = LanguageVerifier()("<think>hello there</think>", {"language": "python"})
    assert bad.error is not None and "'python' is not an ISO 639-1" in bad.error
    unknown = LanguageVerifier()("<think>hello there</think>", {"language": "qq"})
    assert unknown.error == "language 'qq' is not supported by py3langid"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"language": "english"}, "language"),
        ({"override": True}, "override"),
        ({"field": ""}, "field"),
        ({"candidates": "en"}, "candidates"),
        ({"candidates": ["en", "Klingon"]}, "candidates"),
        ({"min_words": 0}, "min_words"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"languages": ["en"]}, "languages"),
    ],
)
def test_bad_options_name_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        LanguageVerifier(**options)


def test_options_are_normalised():
    verifier = LanguageVerifier(language="ZH-Hans", candidates=["EN", "en", "fr_CA"])
    assert verifier.options.language == "zh"
    assert verifier.options.candidates == ("en", "fr")


def test_helpers():
    assert normalize_language(" pt_BR ") == "pt"
    assert chain_of_thought("a</think>b") == "a"
    assert chain_of_thought("x<think>a</think>b") == "a"
    assert words(prose("naïve don't 数学 カタカナ 한국어 Привет ﬁne")) == [
        ("LATIN", "naïve"),
        ("LATIN", "don't"),
        ("HAN", "数"),
        ("HAN", "学"),
        *[("KANA", c) for c in "カタカナ"],
        ("HANGUL", "한국어"),
        ("CYRILLIC", "Привет"),
        ("LATIN", "fine"),  # NFKC folds the ligature
    ]


def test_model_is_loaded_once_per_process():
    assert lang_mod._identifier() is lang_mod._identifier()
