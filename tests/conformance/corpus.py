"""The tokenizer conformance corpus: the docstrings of the Python standard
library, the descriptions of the installed packages, and a multilingual
sample. Shared by tests/conformance/test_tokenizer_conformance.py and
benchmarks/tokenizer.py (it needs neither pytest nor Keras)."""

import importlib
import importlib.metadata
import inspect
import sys

MULTILINGUAL = [
    "Crème brûlée, piñata, naïve café — Ångström façade",
    "Straße, Übermaß, ÆØÅ æøå, İstanbul",
    "東京は日本の首都です。北京是中国的首都。",
    "서울은 한국의 수도입니다.",
    "Москва — столица России.",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "emoji 🤗😀👍🏽 and symbols ©®™ ±×÷ ≤≥ ∑∫",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u200bzero-width\u0000nul\u0007bell",
    "[MASK] and [SEP] kept whole, [UNK] too; [mask] is not",
    "a" * 120 + " antidisestablishmentarianism supercalifragilisticexpialidocious",
    "https://example.com/a_b-c?d=1&e=2 user@example.com #hashtag @mention",
    "3.14159 1,000,000 2026-11-26 12:30:45 $100 €5 £3 ¥7",
    "don't won't y'all rock'n'roll (parenthesis) [brackets] {braces} <angle>",
]


def corpus():
    texts = []
    quiet = {"antigravity", "this", "idlelib", "turtle", "turtledemo", "tkinter"}
    for name in sorted(sys.stdlib_module_names - quiet):
        if name.startswith("_"):
            continue
        try:
            module = importlib.import_module(name)
        except Exception:  # platform modules (winreg, ...) not on this system
            continue
        for _, member in inspect.getmembers(module):
            doc = getattr(member, "__doc__", None)
            if isinstance(doc, str) and doc.strip():
                texts.append(doc)
        if len(texts) > 3000:
            break
    for distribution in importlib.metadata.distributions():
        description = distribution.metadata.get_payload() or ""
        if description.strip():
            texts.append(description[:20000])
    return sorted(set(texts)) + MULTILINGUAL
