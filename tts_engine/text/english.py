"""English text for speech: numbers, money, times, abbreviations and symbols.

Input is one sentence (or a heading) as written; output is what a narrator
would say, in plain words and simple punctuation. The passes run in order:
URLs and e-mails first, while their dots and slashes are still intact; then
the language-neutral clean-up; then abbreviations, which need their full stops;
then everything numeric, most specific first.

Bump ``tts_engine.text.NORMALISER_VERSION`` whenever an output here changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from tts_engine.text import common
from tts_engine.text.common import roman_value

# ---------------------------------------------------------------- numbers


def cardinal(number: int) -> str:
    # num2words writes "one thousand, two hundred"; a comma there is a pause.
    return str(num2words(number, lang="en")).replace(",", "")


def ordinal(number: int) -> str:
    return str(num2words(number, lang="en", to="ordinal")).replace(",", "")


def year(number: int) -> str:
    return str(num2words(number, lang="en", to="year")).replace(",", "")


def digits(text: str) -> str:
    return " ".join(cardinal(int(d)) for d in text if d.isdigit())


def number(text: str) -> str:
    """Words for a plain or grouped number: "1,234.50", "007", "3.14"."""
    whole, _, fraction = text.replace(",", "").partition(".")
    if (len(whole) > 1 and whole.startswith("0")) or len(whole) > 15:
        spoken = digits(whole)  # codes, not quantities: "oh oh seven" style
    else:
        spoken = cardinal(int(whole or "0"))
    if fraction:
        spoken += " point " + digits(fraction)
    return spoken


def _plural(words: str) -> str:
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


# ---------------------------------------------------------- URLs, e-mails

_TLDS = "com|org|net|edu|gov|io|co|uk|us|de|fr|info|biz|ai|app|dev"
_URL = re.compile(
    rf"\b(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:{_TLDS})\b(?:/[^\s<>\"']*)?", re.I
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL_MARKS = {".": " dot ", "/": " slash ", "-": " dash ", "_": " underscore ", "@": " at ", ":": " colon "}


def _spell_address(address: str) -> str:
    out = []
    for char in address:
        if char.isdigit():
            out.append(f" {cardinal(int(char))} ")
        elif char in _URL_MARKS:
            out.append(_URL_MARKS[char])
        elif char.isalnum():
            out.append(char)
        else:
            out.append(" ")
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _url(match: re.Match[str]) -> str:
    url = match.group(0)
    trail = re.search(r"[.,;:!?)]+$", url)
    tail = trail.group(0) if trail else ""
    url = url[: len(url) - len(tail)]
    url = re.sub(r"^https?://", "", url, flags=re.I).split("?")[0].split("#")[0].rstrip("/")
    if url.lower().startswith("www."):
        url = "w w w." + url[4:]
    return _spell_address(url) + tail


def _email(match: re.Match[str]) -> str:
    return _spell_address(match.group(0))


# ------------------------------------------------------------ abbreviations

_TITLES = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Mx": "Mix", "Prof": "Professor",
    "Capt": "Captain", "Col": "Colonel", "Gen": "General", "Lt": "Lieutenant",
    "Sgt": "Sergeant", "Cpl": "Corporal", "Maj": "Major", "Adm": "Admiral",
    "Rev": "Reverend", "Hon": "Honourable", "Gov": "Governor", "Sen": "Senator",
    "Rep": "Representative", "Pres": "President", "Fr": "Father", "Supt": "Superintendent",
}  # fmt: skip
_UNDOTTED_TITLES = ("Mr", "Mrs", "Ms", "Mx", "Dr", "St")
_TITLE = re.compile(
    rf"\b(?:(?P<dotted>{'|'.join(_TITLES)})\.|(?P<bare>{'|'.join(_UNDOTTED_TITLES[:4])}))(?=\s+[A-Z])"
)
# Before a capitalised name it is a title; otherwise a street: "St. Paul",
# "Dr. Watson", but "Baker St." and "Mulholland Dr.".
_DR_ST = re.compile(r"\b(Dr|St)(\.|(?=\s+[A-Z]))")
_WORDS = {
    "vs": "versus", "etc": "et cetera", "e.g": "for example", "i.e": "that is",
    "approx": "approximately", "cf": "compare", "viz": "namely", "Jr": "Junior",
    "Sr": "Senior", "Inc": "Incorporated", "Ltd": "Limited", "Co": "Company",
    "Corp": "Corporation", "Bros": "Brothers", "Mt": "Mount", "Ft": "Fort",
    "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard", "Ln": "Lane", "Sq": "Square",
    "Dept": "Department", "Univ": "University", "Esq": "Esquire",
}  # fmt: skip
_WORD = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in _WORDS) + r")\.")
_BEFORE_NUMBER = {
    "no": "number", "nos": "numbers", "vol": "volume", "ch": "chapter", "fig": "figure",
    "p": "page", "pp": "pages", "pt": "part", "ep": "episode", "jan": "January",
    "feb": "February", "mar": "March", "apr": "April", "jun": "June", "jul": "July",
    "aug": "August", "sep": "September", "sept": "September", "oct": "October",
    "nov": "November", "dec": "December",
}  # fmt: skip
_NUMBERED = re.compile(r"\b(" + "|".join(_BEFORE_NUMBER) + r")\.\s?(?=\d)", re.I)
_AM_PM = re.compile(r"\b([ap])\.\s?m\.", re.I)


# Abbreviations that often end a sentence, so a capital after them starts one.
_SENTENCE_FINAL = frozenset(
    {"etc", "Inc", "Ltd", "Co", "Corp", "Bros", "Jr", "Sr", "Esq", "Ave", "Rd", "Blvd", "Ln"}
)


def _keep_full_stop(match: re.Match[str], words: str, *, final: bool = False) -> str:
    # An abbreviation's dot may also end the sentence: "He works for Acme Inc."
    rest = match.string[match.end() :]
    return words + "." if not rest.strip() or (final and re.match(r"\s+[A-Z]", rest)) else words


def _title(match: re.Match[str]) -> str:
    return _TITLES[match.group("dotted") or match.group("bare")]


def _dr_st(match: re.Match[str]) -> str:
    abbreviation = match.group(1)
    if re.match(r"\s+[A-Z]", match.string[match.end() :]):
        return "Doctor" if abbreviation == "Dr" else "Saint"
    return _keep_full_stop(match, "Drive" if abbreviation == "Dr" else "Street", final=True)


def abbreviations(text: str) -> str:
    text = _AM_PM.sub(lambda m: _keep_full_stop(m, m.group(1).upper() + "M"), text)
    text = _NUMBERED.sub(lambda m: _BEFORE_NUMBER[m.group(1).lower()] + " ", text)
    text = _TITLE.sub(_title, text)
    text = _DR_ST.sub(_dr_st, text)
    return _WORD.sub(
        lambda m: _keep_full_stop(m, _WORDS[m.group(1)], final=m.group(1) in _SENTENCE_FINAL), text
    )


# ---------------------------------------------------------- Roman numerals

_HEADING_WORDS = (
    "Chapter", "Chap", "Part", "Book", "Volume", "Act", "Scene", "Section", "Canto", "Letter",
    "Appendix", "Episode", "Stave", "Lesson",
)  # fmt: skip
_KEYWORD_ROMAN = re.compile(rf"\b({'|'.join(_HEADING_WORDS)})\.?\s+([IVXLCDM]+|[ivxlcdm]+)\b(?!')", re.I)
# As a heading writes them ("Part", "PART"), never "for my part I think".
_KEYWORDS = "|".join(form for word in _HEADING_WORDS for form in (word, word.upper()))
_LEADING_ROMAN = re.compile(r"^\s*([IVXLCDM]+)(?=$|[.:)]|\s+[-–—]|\s+\w)")
# Ordinary words that are also valid numerals; in a heading they are words.
_ROMAN_WORDS = frozenset({"MIX", "DIV", "CD", "DC", "MD", "MC", "CV", "CC", "CM", "LI", "DI", "XL"})
# Monarchs, popes and pharaohs, whose numeral is an ordinal: "Henry VIII" is "Henry the Eighth".
_REGNAL_NAMES = (
    "Alexander", "Alfonso", "Alfred", "Amenhotep", "Anne", "Antiochus", "Augustus", "Benedict",
    "Boniface", "Carl", "Casimir", "Catherine", "Charles", "Christian", "Clement", "Constantine",
    "David", "Edmund", "Edward", "Elizabeth", "Ferdinand", "Francis", "Frederick", "Friedrich",
    "George", "Gregory", "Gustav", "Gustavus", "Haakon", "Harald", "Henri", "Henry", "Innocent",
    "Isabella", "Ivan", "James", "John", "Joseph", "Juan", "Leo", "Leopold", "Louis", "Ludwig",
    "Malcolm", "Margaret", "Mary", "Matilda", "Napoleon", "Nicholas", "Olaf", "Otto", "Paul",
    "Pedro", "Peter", "Philip", "Pius", "Ptolemy", "Ramesses", "Richard", "Robert", "Rudolf",
    "Sigismund", "Stephen", "Thutmose", "Umberto", "Urban", "Victor", "Wilhelm", "William",
)  # fmt: skip
_REGNAL = re.compile(rf"\b({'|'.join(_REGNAL_NAMES)})\s+([IVXL]+)\b")
# After a name, "I" is as often the pronoun ("Richard I was"), so only these make it a numeral.
_REGNAL_I_FOLLOWS = re.compile(r"$|[,.;:!?)]|'s\b|\s+of\b")
_WORLD_WAR = re.compile(r"\bWorld War (I{1,2})\b")


def _capitalised(words: str) -> str:
    return "-".join(part.capitalize() for part in words.split("-"))


def _regnal(match: re.Match[str]) -> str:
    name, numeral = match.groups()
    value = roman_value(numeral)
    if value is None or (numeral == "I" and not _REGNAL_I_FOLLOWS.match(match.string, match.end())):
        return match.group(0)
    return f"{name} the {' '.join(_capitalised(word) for word in ordinal(value).split())}"


def roman_numerals(text: str, *, heading: bool) -> str:
    def keyword(match: re.Match[str]) -> str:
        word, numeral = match.groups()
        value = roman_value(numeral)
        if not value or not (numeral.isupper() or numeral.islower()):  # "Chapter Mix"
            return match.group(0)
        if numeral == "I" and word.islower():  # "for my part I think": the pronoun
            return match.group(0)
        return f"{word} {cardinal(value)}"

    text = _KEYWORD_ROMAN.sub(keyword, text)
    text = _REGNAL.sub(_regnal, text)
    text = _WORLD_WAR.sub(lambda m: f"World War {_capitalised(cardinal(len(m.group(1))))}", text)
    if heading:
        match = _LEADING_ROMAN.match(text)
        value = roman_value(match.group(1)) if match else None
        # A numeral alone is a section number, even "I" or "XL"; before more
        # words, "I Remember" and "MIX TAPE" are words.
        alone = common.bare_section_number(text) or re.match(r"^\s*I\s*[.:)]", text)
        if match and value and (alone or (value != 1 and match.group(1) not in _ROMAN_WORDS)):
            text = text[: match.start(1)] + cardinal(value) + text[match.end(1) :]
    return text


# ---------------------------------------------------------------- headings

HEADING_MAX_CHARS = 100
_NUMBER_WORDS = frozenset(cardinal(n) for n in range(1, 101))
_NUMBERED_HEADING = re.compile(
    rf"^(?:{_KEYWORDS})\.?\s+(?P<number>[IVXLCDM]+|[ivxlcdm]+|\d{{1,4}}|[A-Za-z-]+)(?=$|\s*[.:,;–—-]|\s+[A-Z])"
)
_NUMBERED_TITLE = re.compile(r"^(?P<number>[IVXLCDM]+)[.:]\s+[A-Z]")


def is_heading(paragraph: str) -> bool:
    """A paragraph that heads a section and is no sentence of the story.

    A bare number ("II", "XLII.", "3"), a numbered heading word ("Chapter
    XLII", "CHAPTER ONE", "Part II: War", "Act I, Scene 2") or a numeral and a
    name ("IV. The Return"), and short enough to be a heading.
    """
    paragraph = paragraph.strip()
    if common.bare_section_number(paragraph):
        return True
    if len(paragraph) > HEADING_MAX_CHARS or paragraph.endswith(("?", "!")):
        return False
    match = _NUMBERED_HEADING.match(paragraph) or _NUMBERED_TITLE.match(paragraph)
    if match is None:
        return False
    number = match.group("number")
    if number.isdigit() or number.lower() in _NUMBER_WORDS:
        return True
    one_case = number.isupper() or number.islower()
    return one_case and number.upper() not in _ROMAN_WORDS and roman_value(number) is not None


# ---------------------------------------------------------------- numerics

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = r"thousand|million|billion|trillion"
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_MONEY = re.compile(rf"([$£€¥₹])\s?({_NUM})(?:\s?({_SCALE})\b|\s?(k|m|bn)\b)?", re.I)
_SHORT_SCALE = {"k": "thousand", "m": "million", "bn": "billion"}
_PERCENT = re.compile(rf"({_NUM})\s?%")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b(?!:\d)(?:\s?(AM|PM)\b)?")
_RANGE = re.compile(
    rf"(?<![\w.,])({_NUM})\s?[–—]\s?(?=\d)|\b(1\d{{3}}|20\d\d)-(?=(?:1\d{{3}}|20\d\d|\d\d)\b)"
)
_DATE = re.compile(r"(?<![\w/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\w/])")
_FRACTION = re.compile(r"(?<![\w/.])(\d{1,3})/(\d{1,3})(?![\w/])")
_VULGAR = {
    "½": "one half", "⅓": "one third", "⅔": "two thirds", "¼": "one quarter", "¾": "three quarters",
    "⅕": "one fifth", "⅛": "one eighth", "⅜": "three eighths", "⅝": "five eighths", "⅞": "seven eighths",
}  # fmt: skip
_VULGAR_RE = re.compile(rf"(\d?)\s?([{''.join(_VULGAR)}])")
_ORDINAL = re.compile(r"\b(\d{1,9})(st|nd|rd|th)\b", re.I)
_DECADE = re.compile(r"(?<![\w'])(?:(1[1-9]|20)(\d0)|'?([1-9]0))s\b")
_YEAR = re.compile(r"(?<![\w$£€¥₹.,#-])(1[1-9]\d\d|20\d\d)(?![\w%]|[.,]\d)")
_NEGATIVE = re.compile(r"(?:(?<=\s)|^)[-−](?=\d)")
_NUMBER = re.compile(rf"(?<![\w.])({_NUM})(?!\w)")
_NUMBER_SIGN = re.compile(r"#\s?(?=\d)")
_ABOUT = re.compile(r"~\s?(?=\d)")


def _money(match: re.Match[str]) -> str:
    one, many, cent, cents = _CURRENCIES[match.group(1)]
    amount = match.group(2).replace(",", "")
    scale = (match.group(3) or _SHORT_SCALE.get((match.group(4) or "").lower(), "")).lower()
    if scale:  # "$3.5 million" is said "three point five million dollars"
        return f"{number(amount)} {scale} {many}"
    whole, _, fraction = amount.partition(".")
    spoken = f"{cardinal(int(whole))} {one if int(whole) == 1 else many}"
    if fraction:
        hundredths = int((fraction + "0")[:2])
        if hundredths:
            spoken += f" and {cardinal(hundredths)} {cent if hundredths == 1 else cents}"
    return spoken


def _time(match: re.Match[str]) -> str:
    hour, minute, meridiem = int(match.group(1)), int(match.group(2)), match.group(3)
    if minute == 0:
        spoken = cardinal(hour) + ("" if meridiem else " o'clock")
    elif minute < 10:
        spoken = f"{cardinal(hour)} oh {cardinal(minute)}"
    else:
        spoken = f"{cardinal(hour)} {cardinal(minute)}"
    return f"{spoken} {meridiem}" if meridiem else spoken


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if denominator == 0:
        return match.group(0)
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = ordinal(denominator) + ("" if numerator == 1 else "s")
    return f"{cardinal(numerator)} {name}"


def _vulgar(match: re.Match[str]) -> str:
    words = _VULGAR[match.group(2)]
    if match.group(1):
        return f"{cardinal(int(match.group(1)))} and {words.replace('one ', 'a ', 1)}"
    return words


def _decade(match: re.Match[str]) -> str:
    if match.group(3):
        return _plural(cardinal(int(match.group(3))))
    return _plural(year(int(match.group(1) + match.group(2))))


def numerics(text: str) -> str:
    steps: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
        (_NUMBER_SIGN, "number "),
        (_ABOUT, "about "),
        (_MONEY, _money),
        (_PERCENT, lambda m: number(m.group(1)) + " percent"),
        (_TIME, _time),
        (_DATE, lambda m: f"{number(m.group(1))} {number(m.group(2))} {year(int(m.group(3)))}"),
        (_VULGAR_RE, _vulgar),
        (_FRACTION, _fraction),
        (_ORDINAL, lambda m: ordinal(int(m.group(1)))),
        (_DECADE, _decade),
        (_YEAR, lambda m: year(int(m.group(1)))),
        (_NEGATIVE, "minus "),
        (_NUMBER, lambda m: number(m.group(1))),
    ]
    for pattern, replacement in steps:
        text = pattern.sub(replacement, text)
    return text


# ----------------------------------------------------------------- symbols

_SYMBOLS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"\s*@\s*"), " at "),
    (re.compile(r"\s*°\s?C\b"), " degrees Celsius"),
    (re.compile(r"\s*°\s?F\b"), " degrees Fahrenheit"),
    (re.compile(r"\s*°"), " degrees"),
    (re.compile(r"\s*±\s*"), " plus or minus "),
    (re.compile(r"\s*\+\s*"), " plus "),
    (re.compile(r"\s*=\s*"), " equals "),
    (re.compile(r"\s*[×]\s*"), " times "),
    (re.compile(r"\s*÷\s*"), " divided by "),
    (re.compile(r"§\s*"), "section "),
    (re.compile(r"¶\s*"), "paragraph "),
    (re.compile(r"©\s*"), "copyright "),
    (re.compile(r"[®™]"), ""),
    (re.compile(r"\s*%"), " percent"),
    (re.compile(r"(?<=[^\W\d_])/(?=[^\W\d_])"), " or "),
    (re.compile(r"\s*/\s*"), " "),
]


def symbols(text: str) -> str:
    for pattern, replacement in _SYMBOLS:
        text = pattern.sub(replacement, text)
    return text


# ------------------------------------------------------------------- entry


def normalise(text: str, *, heading: bool = False) -> str:
    """Say ``text`` (one sentence, or a heading when ``heading``) in words."""
    text = _EMAIL.sub(_email, text)
    text = _URL.sub(_url, text)
    text = _RANGE.sub(lambda m: (m.group(1) or m.group(2)) + " to ", text)
    text = common.clean(text)
    text = abbreviations(text)
    text = roman_numerals(text, heading=heading)
    text = numerics(text)
    text = symbols(text)
    return common.tidy(text)
