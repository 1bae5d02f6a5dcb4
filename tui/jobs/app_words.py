"""A job's messages in the app's own words: the workers' errors give the command line's fix ("pass --data
PATH"), which in the app is a field of the train or export form. Nothing here imports textual.
"""

from __future__ import annotations

import re

_FORMS = {"train": "the train form (t)", "export": "the export form (e)"}

_FLAGS: tuple[tuple[str, str], ...] = (
    (r"\ba smaller --batch-size or --limit\b", "a smaller batch size or image limit in {form}"),
    (r"\bpass --data(?: PATH)?", "set the dataset field of {form}"),
    (r"\bor --data cifar10\b", "or cifar10"),
    (r"--data\b", "the dataset field of {form}"),
    (r"--batch-size\b", "the batch size field of {form}"),
    (r"--limit\b", "the image limit field of {form}"),
    (r"--out(?: DIR(?:/NAME)?)?(?=[\s;,.)]|$)", "the output folder field of {form}"),
    (r"--resume\b", "the resume field of {form}"),
    (r"--strategy\b", "the strategy field of {form}"),
)
"""(our CLI's option, as the workers' messages name it; the form field that sets it)."""


def in_app_words(kind: str, text: str) -> str:
    """``text`` with each command-line option of ours replaced by the form field that sets it."""
    form = _FORMS.get(kind)
    if form is None or "--" not in text:
        return text
    for flag, words in _FLAGS:
        text = re.sub(flag, words.format(form=form), text)
    return text
