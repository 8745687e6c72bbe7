#!/usr/bin/env python3
"""Write the nf-test snapshots (*.nf.test.snap) of this repository with the real Nextflow runtime.

The snapshots beside tests/default.nf.test and modules/local/*/tests/main.nf.test are produced by the
real Nextflow runtime (.nextflow-runtime/24.10.0, `make nextflow`) through this generator, because
nf-test itself cannot be installed here (no download site but the package registries). Where nf-test
runs, `nf-test test --update-snapshot` replaces them; both write the same file format and, for the
same outputs, the same content.

What it does is what `nf-test test` does to write a snapshot, step by step:

1. It reads every *.nf.test of the repository (the parser below; tests/test_nf_test_files.py uses it
   too): each test's setup and `when` blocks (the Nextflow code that feeds a process its inputs, the
   params of a pipeline test, its options) and its `then` block.
2. Module tests: a generated workflow (in a temporary folder whose entries link to the repository's,
   so that `projectDir` in tests/nextflow.config is the repository, as under nf-test) includes the
   processes of the module tests, feeds each the inputs its `setup` or `when` block gives (the code
   pasted verbatim, as nf-test pastes it into its mock workflow) and stores every output channel as
   JSON, as nf-test's mock workflow does. Tests that run a process on the same inputs (the same code
   on the same upstream processes: the setup chains of the later modules' tests) share one run of it,
   so the chain CHECK_INPUTS -> ... -> MERGE runs once for all modules' tests; a test that gives a
   process other inputs, or other `options` (FETCH_MODEL's `options "-stub"`: the hub cannot be
   reached), gets a generated workflow of its own, run with those options, as processes keep their
   names (the configs select them by name; versions.yml records it). Pipeline tests: main.nf runs
   once per test with the test's params and options. Every run gets nf-test's arguments:
   `-c nextflow.config -c tests/nextflow.config -profile test -params-file ...
   -with-trace ...`; all runs go in parallel.
3. One more Nextflow run (Groovy only, no tasks) evaluates each `then` block verbatim with nf-test's
   semantics ported to Groovy: `process.out` (a sorted map of sorted channels, read from that JSON),
   `workflow.success` and `workflow.trace`, `snapshot(...).match()`, `assertAll`, `path`, `file`, and
   `getAllFilesFromDir` (the nft-utils plugin declared in nf-test.config). It renders the snapshot with
   nf-test's own rules (paths as "name:md5,<hex>", md5 of .gz files over their decompressed bytes,
   Groovy's JsonOutput.prettyPrint, a HashMap of test names) into the .snap text.

A snapshot whose content has not changed keeps its timestamp and meta, as under nf-test.

Usage (from anywhere; Nextflow from .nextflow-runtime, seqgx from the Python running this script):
    python tests/nf_test_snapshots.py          # write the .snap files
    python tests/nf_test_snapshots.py modules/local/genes/tests/main.nf.test   # only this file's
    python tests/nf_test_snapshots.py --check  # exit 1 when a committed .snap differs from a fresh one
                                               # (content and test names; timestamps and meta aside)
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NEXTFLOW_VERSION = "24.10.0"
NEXTFLOW = REPO / ".nextflow-runtime" / NEXTFLOW_VERSION / "bin" / "nextflow"
NF_TEST_VERSION = "0.9.2"  # the nf-test release whose behaviour the evaluator ports (meta of new snapshots)
PROFILE = "test"           # nf-test.config: profile
CONFIG_FILE = "tests/nextflow.config"  # nf-test.config: configFile


class NfTestError(Exception):
    """An nf-test file this script cannot read, or a run that failed."""


# --------------------------------------------------------------------------------------------------
# Reading nf-test files
# --------------------------------------------------------------------------------------------------

@dataclass
class Call:
    """One statement of an nf-test block: `name(args) "string" { body }`, each part optional."""

    name: str
    args: str | None = None
    string: str | None = None   # the raw text of a string literal argument, quotes removed
    body: str | None = None     # the text between the braces


@dataclass
class ProcessRun:
    """A process and the Nextflow code that sets its `input[i]`."""

    name: str
    script: Path
    mapping: str


@dataclass
class NfTest:
    name: str
    options: str = ""
    setup: list[ProcessRun] = field(default_factory=list)
    mapping: str | None = None    # the `when { process { """...""" } }` code
    params: str | None = None     # the body of `when { params { ... } }`
    then: str = ""
    configs: list[Path] = field(default_factory=list)   # `config "..."` of the file, then of the test


@dataclass
class NfTestFile:
    path: Path
    kind: str                     # nextflow_process, nextflow_pipeline, nextflow_workflow, ...
    name: str
    script: Path
    process: str | None
    options: str
    tests: list[NfTest]
    # Text nf-test hands to Nextflow as code (process/workflow mapping strings, params bodies), raw
    nextflow_code: list[str] = field(default_factory=list)

    @property
    def snap(self) -> Path:
        return self.path.with_name(self.path.name + ".snap")


def _string_end(text: str, i: int) -> int:
    """Index just past the Groovy string literal that starts at text[i] ('', "", ''' ''' or \"\"\" \"\"\")."""
    quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else text[i]
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if quote[0] == '"' and text.startswith("${", j):
            j = matching(text, j + 1) + 1
            continue
        if text.startswith(quote, j):
            return j + len(quote)
        if len(quote) == 1 and text[j] == "\n":
            break
        j += 1
    raise NfTestError(f"unterminated string at offset {i}: {text[i:i + 40]!r}")


def _comment_end(text: str, i: int) -> int | None:
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        if end < 0:
            raise NfTestError(f"unterminated comment at offset {i}")
        return end + 2
    return None


def matching(text: str, i: int) -> int:
    """Index of the bracket that closes the one at text[i], skipping strings and comments."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    stack = [pairs[text[i]]]
    j = i + 1
    while j < len(text):
        c = text[j]
        end = _comment_end(text, j)
        if end is not None:
            j = end
            continue
        if c in "\"'":
            j = _string_end(text, j)
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if c != stack.pop():
                raise NfTestError(f"mismatched '{c}' at offset {j}")
            if not stack:
                return j
        j += 1
    raise NfTestError(f"unclosed '{text[i]}' at offset {i}")


def _string_literal(text: str, i: int) -> tuple[str, int]:
    end = _string_end(text, i)
    q = 3 if text[i:i + 3] in ('"""', "'''") else 1
    return text[i + q:end - q], end


def calls(body: str) -> list[Call]:
    """The statements of a block, at its top level."""
    out: list[Call] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        end = _comment_end(body, i)
        if c.isspace() or c == ";":
            i += 1
        elif end is not None:
            i = end
        elif c in "\"'":
            value, i = _string_literal(body, i)
            out.append(Call("", string=value))
        elif c.isalpha() or c == "_":
            m = re.compile(r"[A-Za-z_]\w*").match(body, i)
            call = Call(m.group())
            i = m.end()
            while i < n and body[i] in " \t":
                i += 1
            if i < n and body[i] == "(":
                close = matching(body, i)
                call.args = body[i + 1:close]
                i = close + 1
                while i < n and body[i] in " \t":
                    i += 1
            if i < n and body[i] in "\"'":
                call.string, i = _string_literal(body, i)
            j = i
            while j < n and body[j].isspace():
                j += 1
            if j < n and body[j] == "{":
                close = matching(body, j)
                call.body = body[j + 1:close]
                i = close + 1
            else:  # anything else (an assignment): to the end of the line
                end_of_line = body.find("\n", i)
                i = n if end_of_line < 0 else end_of_line
            out.append(call)
        else:
            i += 1
    return out


def _one(items: list[Call], name: str, where: str) -> Call | None:
    found = [c for c in items if c.name == name]
    if len(found) > 1:
        raise NfTestError(f"{where}: more than one '{name}'")
    return found[0] if found else None


def _code_string(block: Call, where: str) -> str:
    """The Nextflow code of a `process { \"\"\"...\"\"\" }` block, as nf-test passes it on."""
    strings = [c for c in calls(block.body or "") if c.name == ""]
    if len(strings) != 1:
        raise NfTestError(f"{where}: expected one string literal in '{block.name} {{ }}'")
    return strings[0].string


def groovy_unescape(text: str) -> str:
    """A Groovy string literal's value, for literals without interpolation."""
    escapes = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "s": " ", '"': '"', "'": "'",
               "\\": "\\", "$": "$", "\n": ""}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), text, flags=re.S)


def parse(path: Path) -> NfTestFile:
    """Read one .nf.test file."""
    text = path.read_text()
    top = [c for c in calls(text) if c.body is not None]
    if len(top) != 1 or not top[0].name.startswith("nextflow_"):
        raise NfTestError(f"{path}: expected one nextflow_process/_pipeline/_workflow {{ }} block")
    suite = top[0]
    items = calls(suite.body)
    where = str(path)
    script = _one(items, "script", where)
    if script is None or script.string is None:
        raise NfTestError(f"{path}: no script")
    process = _one(items, "process", where)
    options = _one(items, "options", where)
    name = _one(items, "name", where)
    result = NfTestFile(path=path, kind=suite.name, name=name.string if name else "",
                        script=(path.parent / script.string).resolve(),
                        process=process.string if process else None,
                        options=options.string if options else "", tests=[])
    suite_config = _one(items, "config", where)
    for t in (c for c in items if c.name == "test"):
        test_name = re.fullmatch(r'\s*"([^"\\$]*)"\s*', t.args or "")
        if not test_name:
            raise NfTestError(f"{path}: test names must be plain double-quoted strings: {t.args!r}")
        where = f"{path}: test {test_name.group(1)!r}"
        body = calls(t.body or "")
        test = NfTest(name=test_name.group(1), options=result.options)
        for config in (suite_config, _one(body, "config", where)):
            if config is not None:
                test.configs.append((path.parent / (config.string or "")).resolve())
        opt = _one(body, "options", where)
        if opt is not None:
            test.options = opt.string or ""
        setup = _one(body, "setup", where)
        for run in (c for c in calls(setup.body) if c.name == "run") if setup else []:
            dep = re.fullmatch(r'\s*"(\w+)"\s*', run.args or "")
            run_items = calls(run.body or "")
            dep_script = _one(run_items, "script", where)
            dep_process = _one(run_items, "process", where)
            if not dep or dep_script is None or dep_process is None:
                raise NfTestError(f"{where}: each run(\"NAME\") needs a script and a process block")
            code = _code_string(dep_process, where)
            result.nextflow_code.append(code)
            test.setup.append(ProcessRun(dep.group(1), (path.parent / dep_script.string).resolve(),
                                         groovy_unescape(code)))
        when = _one(body, "when", where)
        for block in calls(when.body) if when else []:
            if block.name in ("process", "workflow"):
                code = _code_string(block, where)
                result.nextflow_code.append(code)
                test.mapping = groovy_unescape(code)
            elif block.name == "params":
                result.nextflow_code.append(block.body or "")
                test.params = block.body
        then = _one(body, "then", where)
        if then is None:
            raise NfTestError(f"{where}: no then block")
        test.then = then.body or ""
        result.tests.append(test)
    return result


def nf_test_files() -> list[Path]:
    """Every *.nf.test of the repository (nf-test.config: testsDir "."), outside hidden and work folders."""
    found = []
    for path in sorted(REPO.rglob("*.nf.test")):
        parts = path.relative_to(REPO).parts
        if not any(p.startswith(".") or p in ("work", "results", "node_modules") for p in parts[:-1]):
            found.append(path)
    return found


# --------------------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------------------

def _normalized(code: str) -> str:
    return "\n".join(line.strip() for line in code.strip().splitlines() if line.strip())


@dataclass
class ModulePlan:
    """The module tests' processes, laid out over as few Nextflow runs as possible."""

    runs: list[dict[str, ProcessRun]]         # each run: process name -> its inputs, upstream first
    run_of: dict[tuple[Path, str], int]       # (nf-test file, test name) -> the run that serves it
    keys: list[dict[str, tuple]]              # each run: process name -> what identifies its inputs
    options: list[str] = field(default_factory=list)  # each run: the tests' `options` (-stub, ...)
    tested: set[tuple] = field(default_factory=set)   # the keys of the tested processes


def module_plan(files: list[NfTestFile]) -> ModulePlan:
    """Tests that run a process on the same inputs (the same code on the same upstream processes, as
    the setup chains of the later modules' tests do) share it, so the chain CHECK_INPUTS -> ... ->
    MERGE runs once. A test that runs a process on other inputs, or with other `options` (`-stub`:
    Nextflow applies options to the whole run), goes to another run: within a run each process keeps
    its own name, since `withName` selectors in the configs and task.process (written to versions.yml)
    must see the name they see under nf-test."""
    plan = ModulePlan(runs=[], run_of={}, keys=[])
    for f in files:
        for test in f.tests:
            where = f"{f.path}: test {test.name!r}"
            if test.params is not None or test.configs:
                raise NfTestError(f"{where}: params and config in process tests are not supported by "
                                  f"this generator")
            if test.mapping is None:
                raise NfTestError(f"{where}: no `when {{ process {{ }} }}` block")
            chain: dict[str, tuple[tuple, ProcessRun]] = {}
            for run in [*test.setup, ProcessRun(f.process, f.script, test.mapping)]:
                if run.name in chain:
                    raise NfTestError(f"{where}: runs {run.name} twice")
                upstream = sorted(set(re.findall(r"\b([A-Z][A-Z0-9_]*)\.out\b", run.mapping)))
                missing = [u for u in upstream if u not in chain]
                if missing:
                    raise NfTestError(f"{where}: {run.name}'s inputs use {missing[0]}.out, which the test "
                                      f"does not run before it")
                inputs = tuple((u, chain[u][0]) for u in upstream)
                chain[run.name] = ((run.name, str(run.script), _normalized(run.mapping), inputs), run)
            plan.tested.add(chain[f.process][0])
            options = " ".join(test.options.split())
            index = next((i for i, keys in enumerate(plan.keys) if plan.options[i] == options
                          and all(keys.get(name, key) == key for name, (key, _) in chain.items())), None)
            if index is None:
                plan.runs.append({})
                plan.keys.append({})
                plan.options.append(options)
                index = len(plan.runs) - 1
            for name, (key, run) in chain.items():
                plan.keys[index].setdefault(name, key)
                plan.runs[index].setdefault(name, run)
            plan.run_of[(f.path, test.name)] = index
    return plan


def module_workflow(runs: list[ProcessRun]) -> str:
    """A workflow that runs processes with their test inputs, as nf-test's mock workflow does, and
    stores their outputs as it does: one JSON file per output channel (by emit name and by index),
    paths as absolute strings, in a folder named after the process."""
    includes = "\n".join(f"include {{ {r.name} }} from '{r.script}'" for r in runs)
    steps = []
    for r in runs:
        steps.append(f"    // {r.name}\n    input = []\n{_indent(r.mapping, 4)}\n"
                     f"    {r.name}.run(input.toArray())\n    storeOutputs('{r.name}', {r.name}.out)\n")
    return f"""// Generated by tests/nf_test_snapshots.py: the processes of every module test on their inputs.
nextflow.enable.dsl = 2
params.nf_test_output = ''

{includes}

workflow {{
    def input = []
{''.join(steps)}
}}

// Every output channel of a process, by emit name and by index: output_<key>.json under <name>/.
def storeOutputs(name, out) {{
    def folder = new File(params.nf_test_output, name)
    folder.mkdirs()
    out.getNames().each {{ emit -> storeChannel(folder, emit, out.getProperty(emit)) }}
    (out as List<Object>).eachWithIndex {{ channel, index -> storeChannel(folder, index, channel) }}
}}

def storeChannel(folder, key, channel) {{
    def items = []
    channel.subscribe(
        onNext: {{ item -> items << item }},
        onComplete: {{
            def json = groovy.json.JsonOutput.toJson([(key): asJson(items)])
            new File(folder, "output_${{key}}.json").text = json
        }}
    )
}}

def asJson(value) {{
    if (value instanceof java.nio.file.Path) {{
        return value.toAbsolutePath().toString()
    }}
    if (value instanceof Map) {{
        return value.collectEntries {{ k, v -> [k, asJson(v)] }}
    }}
    if (value instanceof Collection) {{
        return value.collect {{ asJson(it) }}
    }}
    return value
}}
"""


def _indent(text: str, n: int) -> str:
    text = textwrap.dedent(text.strip("\n"))
    return "\n".join((" " * n + line) if line.strip() else "" for line in text.splitlines())


def pipeline_params(test: NfTest, output_dir: Path) -> dict:
    """The `params { }` block of a pipeline test, as nf-test writes it to its params file. Supported:
    `name = value` with a number, true/false, or a string in which only $outputDir is interpolated."""
    values: dict = {}
    for line in (test.params or "").splitlines():
        line = re.sub(r"\s*//.*$", "", line).strip()
        if not line:
            continue
        m = re.fullmatch(r"(\w+)\s*=\s*(.+)", line)
        if not m:
            raise NfTestError(f"test {test.name!r}: cannot read the params line {line!r}")
        key, value = m.groups()
        if value in ("true", "false"):
            values[key] = value == "true"
        elif re.fullmatch(r"-?\d+", value):
            values[key] = int(value)
        elif re.fullmatch(r"-?\d+\.\d*", value):
            values[key] = float(value)
        elif re.fullmatch(r"'[^'\\]*'", value):
            values[key] = value[1:-1]
        elif re.fullmatch(r'"[^"\\]*"', value):
            literal = value[1:-1].replace("${outputDir}", "$outputDir").replace("$outputDir", str(output_dir))
            if "$" in literal:
                raise NfTestError(f"test {test.name!r}: only $outputDir is supported in params: {line!r}")
            values[key] = literal
        else:
            raise NfTestError(f"test {test.name!r}: unsupported params value {line!r}")
    return values


def _environment(home: Path) -> dict[str, str]:
    """Nextflow offline, with the seqgx of the Python running this script first on PATH."""
    # Made here, not by Nextflow: parallel launches race to create it, and the loser exits 1
    # ("Cannot create path ... check file system access permission"; seen in CI).
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "SEQGX_NO_PLUGINS": "true", "NXF_OFFLINE": "true", "NXF_ANSI_LOG": "false",
            "NXF_HOME": str(home), "NXF_DISABLE_CHECK_LATEST": "true"}


@dataclass
class Run:
    """One `nextflow run` laid out as nf-test lays out a test: launch folder with meta/, output/, work/."""

    label: str
    launch: Path
    script: Path
    params: dict
    options: str
    configs: list[Path] = field(default_factory=list)   # after tests/nextflow.config, as nf-test does
    exit_status: int | None = None
    log: str = ""

    @property
    def meta(self) -> Path:
        return self.launch / "meta"

    def command(self) -> list[str]:
        params_file = self.meta / "params.json"
        params_file.write_text(json.dumps(self.params))
        return [str(NEXTFLOW), "-log", str(self.meta / "nextflow.log"), "run", str(self.script),
                "-c", str(REPO / "nextflow.config"), "-c", str(REPO / CONFIG_FILE),
                *(arg for config in self.configs for arg in ("-c", str(config))),
                "-params-file", str(params_file), "-ansi-log", "false", "-profile", PROFILE,
                "-with-trace", str(self.meta / "trace.csv"), "-w", str(self.launch / "work"),
                *self.options.split()]

    def execute(self, env: dict[str, str]) -> Run:
        for sub in ("meta", "output", "work"):
            (self.launch / sub).mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.run(self.command(), cwd=self.launch, env=env, capture_output=True, text=True,
                                  timeout=1800)
        except subprocess.TimeoutExpired as e:
            self.exit_status, self.log = 124, f"timed out after {e.timeout} s"
            return self
        self.exit_status = proc.returncode
        self.log = proc.stdout + proc.stderr
        return self


def _project_view(folder: Path) -> Path:
    """A folder whose entries link to the repository's: a generated workflow written there sees the
    repository as its projectDir (as nf-test's mock workflow, written to the repository root, does)."""
    folder.mkdir(parents=True)
    for entry in REPO.iterdir():
        if not entry.name.startswith("."):
            (folder / entry.name).symlink_to(entry)
    return folder


# --------------------------------------------------------------------------------------------------
# Evaluating the then blocks (Groovy, run by Nextflow): nf-test's semantics, ported
# --------------------------------------------------------------------------------------------------

EVALUATOR = r"""
// Generated by tests/nf_test_snapshots.py: evaluates the `then` blocks of nf-test files as nf-test
// 0.9 does, and writes the .snap text. Input and output: JSON files named by params.spec, params.result.
import groovy.json.JsonGenerator
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import java.nio.file.FileSystems
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.security.MessageDigest
import java.time.LocalDateTime
import java.time.format.DateTimeFormatter
import java.util.zip.GZIPInputStream

params.spec = ''
params.result = ''

workflow {
    def spec = new JsonSlurper().parse(new File(params.spec))
    def root = new File(spec.repo)
    def generator = new JsonGenerator.Options().excludeFieldsByName('mapping')
        .addConverter(pathConverter(root)).build()
    def result = [:]
    spec.files.each { snapFile ->
        def old = snapFile.old ?: [:]
        def snapshots = new HashMap<String, Object>()   // nf-test's order of test names
        def errors = []
        snapFile.tests.each { test ->
            def recorded = [:]
            try {
                evaluateThen(test, spec, recorded)
            } catch (Throwable e) {
                while (e.cause != null && e.cause != e) {   // the closures run by reflection
                    e = e.cause
                }
                errors << "test '${test.name}': ${e.class.simpleName}: ${e.message}".toString()
                return
            }
            recorded.each { id, content ->
                def fresh = JsonOutput.prettyPrint(generator.toJson(content))
                def before = old[id]
                if (before != null && JsonOutput.prettyPrint(generator.toJson(before.content)) == fresh) {
                    snapshots.put(id, [content: before.content, meta: before.meta,
                                       timestamp: before.timestamp])
                } else {
                    def meta = new HashMap<String, Object>()
                    meta.put('nf-test', spec.nf_test_version)
                    meta.put('nextflow', nextflow.version.toString())
                    def now = DateTimeFormatter.ISO_DATE_TIME.format(LocalDateTime.now())
                    snapshots.put(id, [content: content, meta: meta, timestamp: now])
                }
            }
        }
        result[snapFile.snap] = [text: JsonOutput.prettyPrint(generator.toJson(snapshots)), errors: errors]
    }
    new File(params.result).text = JsonOutput.toJson(result)
}

// One then block, with the names nf-test gives it. Snapshots go to `recorded` (id -> content).
def evaluateThen(test, spec, Map recorded) {
    def binding = new Binding()
    def workflowMeta = new Expando(success: test.exit_status == 0, failed: test.exit_status != 0,
                                   exitStatus: test.exit_status, trace: readTrace(test.trace))
    binding.setVariable('workflow', workflowMeta)
    if (test.outputs != null) {
        binding.setVariable('process', new Expando(success: test.exit_status == 0,
            failed: test.exit_status != 0, exitStatus: test.exit_status,
            out: readChannels(new File(test.outputs))))
    }
    binding.setVariable('params', test.params)
    ['outputDir', 'launchDir', 'workDir', 'moduleDir', 'moduleTestDir'].each {
        binding.setVariable(it, test[it])
    }
    binding.setVariable('baseDir', spec.repo)
    binding.setVariable('projectDir', spec.repo)
    binding.setVariable('snapshot', { Object... content ->
        new Expando(match: { Object... name ->
            def id = name ? name[0].toString() : test.name
            if (recorded.containsKey(id)) {
                throw new RuntimeException("A snapshot with id '${id}' already exists.")
            }
            recorded[id] = content as List
            return true
        })
    })
    binding.setVariable('assertAll', { Closure... checks ->
        def failures = []
        checks.each { check ->
            try { check.call() } catch (Throwable e) { failures << e.message }
        }
        if (failures) {
            throw new AssertionError("${failures.size()} of ${checks.length} assertions failed:\n"
                                     + failures.join('\n'))
        }
    })
    binding.setVariable('file', { name -> new File(name.toString()) })
    binding.setVariable('path', { name -> Paths.get(name.toString()) })
    binding.setVariable('getAllFilesFromDir', { Object... args -> allFilesFromDir(args) })
    new GroovyShell(this.class.classLoader, binding).evaluate(test.then)
}

// workflow.trace: the tasks of the run's trace file, each with name and success (status COMPLETED).
def readTrace(String traceFile) {
    def tasks = []
    def lines = new File(traceFile).readLines()
    def header = lines ? lines[0].split('\t') as List : []
    lines.drop(1).findAll { it }.each { line ->
        def row = [header, line.split('\t', -1) as List].transpose().collectEntries()
        tasks << new Expando(name: row.name, success: row.status == 'COMPLETED')
    }
    return new Expando(tasks: { -> tasks }, succeeded: { -> tasks.findAll { it.success } },
                       failed: { -> tasks.findAll { !it.success } })
}

// process.out: a map sorted by key of channels whose items are sorted (nf-test's autoSort).
def readChannels(File folder) {
    def channels = new TreeMap<Object, Object>()
    folder.listFiles().findAll { it.name.startsWith('output_') }.each { jsonFile ->
        def map = toTreeMap(new JsonSlurper().parse(jsonFile))
        map.each { key, channel -> Collections.sort(channel, channelItemOrder()) }
        channels.putAll(map)
    }
    return channels
}

def toTreeMap(Map source) {
    def target = new TreeMap<String, Object>()
    source.each { key, value ->
        if (value instanceof Map) {
            target[key] = toTreeMap(value)
        } else if (value instanceof List) {
            target[key] = new Vector<Object>(value.collect { it instanceof Map ? toTreeMap(it) : it })
        } else {
            target[key] = value
        }
    }
    return target
}

def channelItemOrder() {
    def compareObjects
    compareObjects = { a, b ->
        if (a.getClass() != b.getClass()) {
            return 1
        }
        if (a instanceof String) {
            if (a.startsWith('/')) {
                def byName = Paths.get(a).fileName.toString() <=> Paths.get(b).fileName.toString()
                return byName != 0 ? byName : fileMd5(Paths.get(a)) <=> fileMd5(Paths.get(b))
            }
            return a <=> b
        }
        if (a instanceof Integer || a instanceof Double || a instanceof Float) {
            return a <=> b
        }
        if (a instanceof Map) {
            return a.toString() <=> b.toString()
        }
        return 1
    }
    return { o1, o2 ->
        if (o1 instanceof ArrayList) {
            for (int i = 0; i < o1.size(); i++) {
                int order = compareObjects(o1[i], o2[i])
                if (order != 0) {
                    return order
                }
            }
            return 0
        }
        return compareObjects(o1, o2)
    } as Comparator
}

// nf-test's md5 of a file: over the decompressed bytes for .gz files.
String fileMd5(Path path) {
    def digest = MessageDigest.getInstance('MD5')
    if (path.toString().endsWith('.gz')) {
        new GZIPInputStream(new FileInputStream(path.toFile())).withCloseable { stream ->
            byte[] buffer = new byte[4096]
            int read
            while ((read = stream.read(buffer)) >= 0) {
                digest.update(buffer, 0, read)
            }
        }
    } else {
        digest.update(Files.readAllBytes(path))
    }
    return digest.digest().collect { String.format('%02x', it) }.join('')
}

// nf-test's PathConverter: any value naming an existing file becomes "name:md5,<hex>", a folder the
// list of its files. nf-test resolves relative names against the folder it runs in, the repository.
def pathConverter(File root) {
    def serialize
    serialize = { Path path ->
        if (Files.isRegularFile(path)) {
            return "${path.fileName}:md5,${fileMd5(path)}".toString()
        }
        def entries = path.toFile().listFiles()
        Arrays.sort(entries)
        return new Vector<Object>(entries.collect { serialize(it.toPath()) })
    }
    return [
        handles: { Class type -> true },
        convert: { Object value, String key ->
            Path path
            if (value instanceof Path || value instanceof File) {
                path = value instanceof File ? value.toPath() : value
                if (!Files.exists(path)) {
                    throw new RuntimeException("Path ${path} not found.")
                }
            } else {
                def name = value.toString()
                def f = new File(name)
                path = (f.isAbsolute() || !name ? f : new File(root, name)).toPath()
                if (!name) {
                    return value
                }
            }
            return Files.exists(path) ? serialize(path) : value
        }
    ] as JsonGenerator.Converter
}

// getAllFilesFromDir of the nft-utils plugin: files (and folders with includeDir) under a folder,
// filtered by include/ignore globs on their relative paths, sorted by path.
def allFilesFromDir(Object[] args) {
    Map options = args.length > 1 ? args[0] : [:]
    String outdir = (args.length > 1 ? args[1] : args[0]).toString()
    Path directory = Paths.get(outdir)
    if (!Files.isDirectory(directory)) {
        throw new IllegalArgumentException("The specified path is not a directory: " + outdir)
    }
    boolean includeDir = options.getOrDefault('includeDir', false)
    List ignore = new ArrayList(options.getOrDefault('ignore', []))
    if (options.ignoreFile) {
        ignore.addAll(new File(options.ignoreFile.toString()).readLines()*.trim().findAll { it })
    }
    List include = options.getOrDefault('include', ['*', '**/*'])
    def excluded = ignore.collect { FileSystems.getDefault().getPathMatcher('glob:' + it) }
    def included = include.collect { FileSystems.getDefault().getPathMatcher('glob:' + it) }
    def isExcluded = { Path p -> excluded.any { it.matches(directory.relativize(p)) } }
    def isIncluded = { Path p -> included.any { it.matches(directory.relativize(p)) } }
    List<File> output = []
    // Files.walkFileTree's order: folders (not followed when linked) before their content
    Files.walk(directory).withCloseable { paths ->
        paths.each { Path p ->
            if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                if (includeDir && isIncluded(p) && !isExcluded(p) && p.fileName != null
                        && p.fileName.toString() != 'output') {
                    output << p.toFile()
                }
            } else if (isIncluded(p) && !isExcluded(p)) {
                output << p.toFile()
            }
        }
    }
    output.sort { it.path }
    if (options.getOrDefault('relative', false)) {
        Path base = directory.toAbsolutePath().normalize()
        return output.collect { base.relativize(it.toPath().toAbsolutePath().normalize()).toString() }
    }
    return output
}
"""


# --------------------------------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------------------------------

def fresh_snapshots(files: list[NfTestFile], tmp: Path) -> dict[Path, str]:
    """The .snap text of each file, from fresh runs."""
    if not NEXTFLOW.is_file():
        raise NfTestError(f"Nextflow {NEXTFLOW_VERSION} not installed at {NEXTFLOW}; run 'make nextflow'")
    env = _environment(tmp / ".nxf-home")
    process_files = [f for f in files if f.kind == "nextflow_process"]
    pipeline_files = [f for f in files if f.kind == "nextflow_pipeline"]
    other = [f for f in files if f not in process_files + pipeline_files]
    if other:
        names = ", ".join(f"{f.path} ({f.kind})" for f in other)
        raise NfTestError(f"not supported by this generator: {names}")

    runs: list[Run] = []
    module_runs: list[Run] = []
    plan = module_plan(process_files)
    for i, processes in enumerate(plan.runs):
        project = _project_view(tmp / f"modules-{i}" / "project")
        wrapper = project / "nf_test_modules.nf"
        wrapper.write_text(module_workflow(list(processes.values())))
        run = Run(f"module tests ({', '.join(processes)}) {plan.options[i]}".rstrip(),
                  tmp / f"modules-{i}" / "launch", wrapper, {}, plan.options[i])
        run.params = {"nf_test_output": str(run.meta)}
        module_runs.append(run)
    runs += module_runs
    pipeline_runs: dict[tuple[Path, str], Run] = {}
    for f in pipeline_files:
        for i, test in enumerate(f.tests):
            launch = tmp / "pipelines" / f"{f.path.stem}-{i}"
            run = Run(f"{f.path.name}: {test.name}", launch, f.script,
                      pipeline_params(test, launch / "output"), test.options, test.configs)
            pipeline_runs[(f.path, test.name)] = run
            runs.append(run)
    with ThreadPoolExecutor(max_workers=len(runs) or 1) as pool:
        list(pool.map(lambda r: r.execute(env), runs))
    failed = [r for r in runs if r.exit_status != 0]
    if failed:
        raise NfTestError("\n\n".join(f"{r.label}: nextflow exited {r.exit_status}\n{r.log[-4000:]}"
                                      for r in failed))

    spec_files = []
    for f in files:
        tests = []
        for test in f.tests:
            if f.kind == "nextflow_process":
                run = module_runs[plan.run_of[(f.path, test.name)]]
                outputs = str(run.meta / f.process)
                params: dict = {}
                module_dir, module_test_dir = str(f.script.parent), str(f.path.parent)
            else:
                run, outputs = pipeline_runs[(f.path, test.name)], None
                params = run.params
                module_dir, module_test_dir = None, str(f.path.parent)
            tests.append({"name": test.name, "then": test.then, "exit_status": run.exit_status,
                          "trace": str(run.meta / "trace.csv"), "outputs": outputs, "params": params,
                          "outputDir": str(run.launch / "output"), "launchDir": str(run.launch),
                          "workDir": str(run.launch / "work"), "moduleDir": module_dir,
                          "moduleTestDir": module_test_dir})
        old = json.loads(f.snap.read_text()) if f.snap.is_file() else {}
        spec_files.append({"snap": str(f.snap), "tests": tests, "old": old})
    return evaluate(spec_files, tmp / "evaluate", env)


def evaluate(spec_files: list[dict], folder: Path, env: dict[str, str]) -> dict[Path, str]:
    """Run EVALUATOR on the tests of `spec_files`; the .snap text of each file."""
    folder.mkdir()
    (folder / "evaluate.nf").write_text(EVALUATOR)
    (folder / "spec.json").write_text(json.dumps({"repo": str(REPO), "nf_test_version": NF_TEST_VERSION,
                                                  "files": spec_files}))
    proc = subprocess.run([str(NEXTFLOW), "-log", str(folder / "nextflow.log"), "run", "evaluate.nf",
                           "--spec", "spec.json", "--result", "result.json", "-ansi-log", "false"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise NfTestError(f"evaluating the then blocks failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    result = json.loads((folder / "result.json").read_text())
    errors = [f"{snap}: {e}" for snap, r in result.items() for e in r["errors"]]
    if errors:
        raise NfTestError("then blocks failed (as `nf-test test` would fail):\n" + "\n".join(errors))
    return {Path(snap): r["text"] for snap, r in result.items()}


def differences(path: Path, fresh_text: str) -> list[str]:
    """How a committed .snap differs from a fresh one: test names and content; not timestamp, meta."""
    if not path.is_file():
        return [f"{path.relative_to(REPO)}: missing"]
    committed, fresh = json.loads(path.read_text()), json.loads(fresh_text)
    out = []
    for name in sorted(set(committed) | set(fresh)):
        if name not in fresh:
            out.append(f"{path.relative_to(REPO)}: snapshot {name!r} belongs to no test")
        elif name not in committed:
            out.append(f"{path.relative_to(REPO)}: no snapshot {name!r}")
        elif committed[name].get("content") != fresh[name]["content"]:
            diff = difflib.unified_diff(json.dumps(committed[name].get("content"), indent=4).splitlines(),
                                        json.dumps(fresh[name]["content"], indent=4).splitlines(),
                                        "committed", "fresh", lineterm="")
            out.append(f"{path.relative_to(REPO)}: snapshot {name!r} differs:\n" + "\n".join(diff))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare fresh snapshots with the committed .snap files (exit 1 on a "
                             "difference) instead of writing them")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder of the runs")
    parser.add_argument("files", nargs="*", type=Path,
                        help="only these .nf.test files (default: all of the repository)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="nf-test-snapshots-"))
    try:
        files = [parse(p.resolve()) for p in args.files or nf_test_files()]
        fresh = fresh_snapshots(files, tmp)
    except NfTestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"runs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.check:
        problems = [p for path, text in fresh.items() for p in differences(path, text)]
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    for path, text in fresh.items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)   # as nf-test writes it: no newline at the end
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
