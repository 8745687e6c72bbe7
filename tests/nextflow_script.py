"""Render a Nextflow process's `script:` block to bash, the way Nextflow would, for tests.

Nextflow cannot run here, so tests render each process's script from the module file itself and run
it on fixtures. Supported, as the modules use them: `def NAME = COND ? "TEXT" : ''` lines (either
order, COND an input or `params.x`), a
triple-double-quoted GString with `${name}`, `${name.baseName}`, `${params.x}` and `${task.process}`,
and the escapes `\\\\` and `\\$`. Anything else fails loudly, so a module that grows past this
renderer is noticed.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

# def NAME = COND ? "TEXT" : ''   or   def NAME = COND ? '' : "TEXT"   (COND: an input or params.x)
_DEF = re.compile(r"""^\s*def\s+(\w+)\s*=\s*([\w.]+)\s*\?\s*("[^"]*"|'')\s*:\s*("[^"]*"|'')\s*$""")
_EXPR = re.compile(r"\$\{([^}]+)\}")


def process_blocks(module: Path) -> dict[str, str]:
    """The sections of the (single) process in a module file: input, output, script, stub."""
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


def _value(expr: str, env: dict[str, object], params: dict[str, object], process: str) -> str:
    expr = expr.strip()
    if expr.startswith("params."):
        key = expr.split(".", 1)[1]
        if key not in params:
            raise KeyError(f"script uses params.{key}, which is not a pipeline parameter")
        return str(params[key])
    if expr == "task.process":
        return process
    name, _, attr = expr.partition(".")
    if name not in env:
        raise KeyError(f"script uses '{expr}', not bound by the test")
    value = env[name]
    if isinstance(value, list | tuple):  # a path input holding several files: space-separated names
        value = " ".join(str(v) for v in value)
    if attr == "":
        return "" if value is None else str(value)
    if attr == "baseName":
        return Path(str(value)).stem  # Nextflow: file name without its last extension
    if attr == "name":
        return Path(str(value)).name
    raise KeyError(f"unsupported expression '{expr}'")


def render_script(module: Path, env: dict[str, object], params: dict[str, object], process: str,
                  section: str = "script") -> str:
    """Bash text of the module's script (or stub) with inputs bound from ``env``."""
    block = process_blocks(module)[section]
    env = dict(env)
    lines = block.strip("\n").splitlines()
    defs = [ln for ln in lines if ln.strip().startswith("def ")]
    for ln in defs:
        m = _DEF.match(ln)
        if not m:
            raise ValueError(f"unsupported def line in {module}: {ln.strip()}")
        name, cond, if_true, if_false = m.groups()
        if cond.startswith("params."):
            truthy = bool(params[cond.split(".", 1)[1]])
        elif cond in env:
            truthy = bool(env[cond])
        else:
            raise KeyError(f"def uses input '{cond}', not bound by the test")
        text = (if_true if truthy else if_false)[1:-1]
        env[name] = _EXPR.sub(lambda e: _value(e.group(1), env, params, process), text)
    rest = "\n".join(ln for ln in lines if ln not in defs)
    start, end = rest.index('"""'), rest.rindex('"""')
    gstring = rest[start + 3:end]
    rendered = _EXPR.sub(lambda e: _value(e.group(1), env, params, process), gstring)
    rendered = rendered.replace("\\\\", "\\").replace("\\$", "$")
    return textwrap.dedent(rendered).strip() + "\n"
