"""What the restorer may never do: touch quotations, change a quantity, drop or invent a name, or
swap British for American spelling (:func:`refusal`)."""
from __future__ import annotations

import re

from repair.text.protect import QUOTES, quotations, zipf
from repair.text.segment import words

NUMBER_VALUES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
NUMBER_VALUES.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                      "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9})
# spinner tells that write a number where the original had none ("a 12 months after" for "a year after")
SAME_QUANTITY = {"12 months": "year", "twelve months": "year", "24 hours": "day", "7 days": "week",
                 "seven days": "week", "10 years": "decade", "ten years": "decade", "100 years": "century"}


def _quantities(text: str) -> list[str]:
    """The numbers a text states, digits and number words alike ("thirty" == "30", "1000's" ==
    "thousands"), after the tells of :data:`SAME_QUANTITY` are read as the words they stand for."""
    text = text.lower()
    for tell, word in SAME_QUANTITY.items():
        text = text.replace(tell, word)
    out = []
    for w in words(text):
        t = w.text.replace(",", "").replace("'", "").replace("’", "")
        t = t[:-1] if t.endswith("s") and (t[:-1] in NUMBER_VALUES or t[:-1].isdigit()) else t
        if t in NUMBER_VALUES:
            out.append(str(NUMBER_VALUES[t]))
        elif any(c.isdigit() for c in t):
            out.append(t)
    return sorted(out)


# British and American spellings of one word ("honouring"/"honoring", "organised"/"organized",
# "centre"/"center", "travelled"/"traveled", "defence"/"defense"): a house style, never a spinner's work
_SPELLING = [(re.compile(p), r) for p, r in [
    (r"our(?=s?$|ing|ed|able|ite|er|ful)", "or"), (r"is(e|ed|es|ing|ation|ations)$", r"iz\1"),
    (r"ys(e|ed|es|ing)$", r"yz\1"), (r"tre(s?)$", r"ter\1"), (r"ll(ed|ing|er|ers)$", r"l\1"),
    (r"ence(s?)$", r"ense\1"), (r"ogue(s?)$", r"og\1")]]


def _spelling(word: str) -> str:
    word = word.lower()
    for pattern, repl in _SPELLING:
        word = pattern.sub(repl, word)
    return word


def refusal(sentence: str, start: int, end: int, after: str) -> str | None:
    """Why an edit must not be made (None: it may). The restorer never touches quotations, never
    changes a quantity (except spinner tells like "12 months" for "year"), never drops or invents a
    name: a capitalised word inside the sentence may only be replaced by another capitalised word,
    and only when it is a common English word (the "Individuals" that stood for "Americans"), and never
    swaps British for American spelling."""
    before = sentence[start:end]
    if not after.strip() or any(q in after or q in before for q in QUOTES):
        return "empty or quotation mark"
    if any(a <= start < b or a < end <= b for a, b in quotations(sentence)):
        return "inside a quotation"
    if _quantities(before) != _quantities(after):
        return "changes a quantity"
    b_words, a_words = words(before), words(after)
    if before.lower() != after.lower() and [_spelling(w.text) for w in b_words] == [_spelling(w.text) for w in a_words]:
        return "a spelling variant"
    opening = sentence[:start].strip() == ""
    if opening and b_words and b_words[0].text[:1].isupper() and zipf(b_words[0].text.lower()) < 4.0:
        return "a name"  # "Blinken said ...": a rare word opening the sentence is a name too
    b_caps = [w.text for i, w in enumerate(b_words) if w.text[:1].isupper() and not (opening and i == 0)]
    a_caps = [w.text for i, w in enumerate(a_words) if w.text[:1].isupper() and not (opening and i == 0)]
    if any(zipf(w.lower()) < 4.0 for w in b_caps):
        return "a name"
    if a_caps and not b_caps:
        return "invents a name"
    if b_caps and not a_caps and not opening:
        return "drops a name"
    return None

