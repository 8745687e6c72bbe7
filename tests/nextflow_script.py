"""The sections of a Nextflow process in a module file, for tests that check modules without Nextflow."""

from __future__ import annotations

import re
from pathlib import Path


def process_blocks(module: Path) -> dict[str, str]:
    """The sections of the (single) process in a module file: input, output, when, script, stub."""
    text = module.read_text()
    body = text[text.index("{") + 1:text.rindex("}")]
    sections: dict[str, str] = {}
    names = ["input", "output", "when", "script", "stub"]
    pattern = re.compile(r"^\s*(" + "|".join(names) + r"):\s*$", re.M)
    marks = list(pattern.finditer(body))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        sections[m.group(1)] = body[m.end():end]
    return sections
