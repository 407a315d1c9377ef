"""Every command quoted in README.md and docs/*.md names a real script and real flags.

A command is a line of a code block (other than ```python blocks) or an inline `code` span that
runs ``python some_script.py …`` (also after ``VAR=value`` prefixes, ``&&`` or ``;``, and through
``torchrun``/``python -m torch.distributed.run``). Its script must exist in the repository, and
each ``--flag value`` must be one of the script's constants with a value of the constant's type
(``rolo.config.parse_value``), so a renamed or removed constant breaks the documentation's test.
``python -m module`` must name an importable module; ``python -c``, ``pip`` and the like are not
checked. A ``...`` table cell that continues the previous command is not a command.
"""
from __future__ import annotations

import importlib.util
import re
import runpy
import shlex
from pathlib import Path

import pytest

from rolo import config
from rolo.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*(\S*)")
_INLINE = re.compile(r"`([^`\n]+)`")
_SEPARATORS = {"&&", "||", ";", "|"}
_LAUNCHERS = {"torchrun", "torch.distributed.run", "torch.distributed.launch"}
_TAKES_POSITIONALS = {"compare.py"}  # scripts whose usage has positional arguments (RESULTS_DIR ...)


def doc_files(root: Path = REPO) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def quoted_commands(text: str) -> list[tuple[int, str]]:
    """``(line number, command line)`` for every shell line quoted in a markdown text."""
    out: list[tuple[int, str]] = []
    fence = None
    pending = ""
    for number, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = (m.group(2)[0], m.group(3).lower())
            continue
        if fence is not None:
            if m and m.group(2)[0] == fence[0] and not m.group(3):
                fence, pending = None, ""
            elif fence[1] not in ("python", "py", "pycon"):
                pending += line.rstrip()
                if pending.endswith("\\"):  # a command continued on the next line
                    pending = pending[:-1] + " "
                    continue
                out.append((number, pending.strip()))
                pending = ""
            continue
        out.extend((number, span.strip()) for span in _INLINE.findall(line))
    return out


def _tokens(command: str) -> list[str]:
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars="&|;")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:  # an unbalanced quote: prose in backticks, not a command
        return []


def python_invocations(command: str) -> list[list[str]]:
    """The argument lists after ``python`` (or a launcher) of each command in a shell line."""
    found: list[list[str]] = []
    part: list[str] = []
    for tok in _tokens(command) + [";"]:
        if tok not in _SEPARATORS:
            part.append(tok)
            continue
        while part and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", part[0]):  # VAR=value prefixes
            part.pop(0)
        if part and (re.fullmatch(r"python[0-9.]*", part[0]) or part[0] == "torchrun"):
            found.append(part[1:] if part[0] != "torchrun" else ["-m", "torchrun", *part[1:]])
        part = []
    return found


def _script_and_flags(args: list[str]) -> tuple[str | None, list[str], str | None]:
    """``(script, its arguments, module)`` of one python invocation; a launcher's own flags are
    skipped up to the script it runs."""
    if not args:
        return None, [], None
    if args[0] == "-m" and len(args) > 1:
        if args[1] not in _LAUNCHERS:
            return None, [], args[1]
        args = args[2:]
        while args and not args[0].endswith(".py"):
            args = args[1:]
    if args and args[0].endswith(".py"):
        return args[0], args[1:], None
    return None, [], None


_CONSTANTS: dict[str, dict] = {}


def script_constants(script: str) -> dict:
    if script not in _CONSTANTS:
        g = runpy.run_path(str(REPO / script), run_name="not_main")
        _CONSTANTS[script] = config.script_constants(g)
    return _CONSTANTS[script]


def check_command(args: list[str]) -> list[str]:
    """Problems with one python invocation (empty when it names a real script and real flags)."""
    script, rest, module = _script_and_flags(args)
    if module is not None:
        if module not in _LAUNCHERS and module != "pytest" and importlib.util.find_spec(module) is None:
            return [f"no module {module!r}"]
        return []
    if script is None:
        return []
    if not (REPO / script).is_file():
        return [f"no script {script!r}"]
    constants = script_constants(script)
    problems = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("-h", "--help"):
            i += 1
            continue
        if not arg.startswith("--"):
            if script not in _TAKES_POSITIONALS and not arg.startswith("<"):  # <x>: the user's to fill
                problems.append(f"{script}: unexpected argument {arg!r}")
            i += 1
            continue
        name, eq, value = arg[2:].partition("=")
        alone = i + 1 >= len(rest) or rest[i + 1].startswith("--")
        if not eq and isinstance(constants.get(name.upper()), bool) and alone:
            value = "true"  # a switch given alone, as rolo.config reads it
        elif not eq:
            value = rest[i + 1] if i + 1 < len(rest) else None
            i += 1
        i += 1
        key = name.upper()
        if key not in constants:
            problems.append(f"{script}: no flag --{name}")
        elif value is None:
            problems.append(f"{script}: --{name} has no value")
        elif not value.startswith("<"):
            try:
                config.parse_value(f"--{name}", value, constants[key])
            except ConfigError as e:
                problems.append(f"{script}: {e}")
    return problems


def check_text(text: str) -> list[str]:
    problems = []
    for number, command in quoted_commands(text):
        for args in python_invocations(command):
            problems += [f"line {number}: {p}" for p in check_command(args)]
    return problems


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_quoted_command_names_a_real_script_and_flags(path):
    problems = check_text(path.read_text(encoding="utf-8"))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_docs_quote_commands_at_all():
    """The parser finds the README's commands: a parser that finds none would pass anything."""
    scripts = set()
    for number, command in quoted_commands((REPO / "README.md").read_text(encoding="utf-8")):
        for args in python_invocations(command):
            scripts.add(_script_and_flags(args)[0])
    assert {"demo.py", "dataloader.py", "train.py", "evaluation.py", "check_otb.py"} <= scripts


@pytest.mark.parametrize("text, expected", [
    ("```bash\npython train.py --no_such_flag 1\n```", "train.py: no flag --no_such_flag"),
    ("Run `python evaluation.py --epochs ten` now.", "--epochs: expected an integer"),
    ("`OMP_NUM_THREADS=1 python -m torch.distributed.run --nproc_per_node 2 train.py --epoch 3`",
     "train.py: no flag --epoch"),
    ("```\npip install x && python no_such_script.py\n```", "no script 'no_such_script.py'"),
    ("```bash\npython train.py --epochs 3 \\\n    --bogus true    # comment\n```", "no flag --bogus"),
    ("`python -m rolo.no_such_module`", "no module 'rolo.no_such_module'"),
    ("`python train.py --data_dir`", "--data_dir has no value"),
    ("`python train.py results/x`", "train.py: unexpected argument 'results/x'"),
])
def test_checker_refuses_a_wrong_command(text, expected):
    problems = check_text(text)
    assert any(expected in p for p in problems), problems


def test_checker_accepts_right_commands():
    text = ("```bash\npython train.py --epochs 3 --lr=1e-3 --inputs box   # note\n"
            "python -c \"print('x')\" && python -m pytest -q\n```\n"
            "```python\nimport train  # python code, not a shell line: --anything\n```\n"
            "| `... --experiment 2` | `python evaluation.py --help` |\n")
    assert check_text(text) == []


def test_ci_runs_the_readmes_test_command():
    """.ci/run installs exactly what the README says and runs the README's test command."""
    readme = [c for _, c in quoted_commands((REPO / "README.md").read_text(encoding="utf-8"))]
    commands = {" ".join(_tokens(c)) for c in readme if c.startswith("pip install") and "pytest" in _tokens(c)}
    assert len(commands) == 1, commands
    ci = [" ".join(_tokens(line)) for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert commands <= set(ci)


def test_every_docs_page_is_one_click_from_the_readme_and_every_link_resolves():
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = {(REPO / target).resolve() for target in link.findall(readme) if "://" not in target}
    missing = [p.name for p in sorted((REPO / "docs").glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link: {missing}"
    for path in doc_files():
        for target in link.findall(path.read_text(encoding="utf-8")):
            if "://" not in target and not target.startswith("mailto:"):
                assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_compares_example_names_the_folders_evaluation_writes_and_its_output_is_ignored():
    """compare.py's --help example quoted results/exp3_100, but evaluation names the folder after the split too."""
    from rolo import evaluation

    g = runpy.run_path(str(REPO / "compare.py"), run_name="not_main")
    example = re.search(r"python compare\.py (.*)", g["__doc__"].split("Example:")[1]).group(1).split()
    folders = [a for a in example if not a.startswith("--") and a != "all"]
    ev = runpy.run_path(str(REPO / "evaluation.py"), run_name="not_main")
    written = {str(evaluation.resolve_paths(config.from_script(ev, ["--experiment", "3", "--epochs", e]))[1])
               for e in ("10", "30", "100")}
    assert folders and set(folders) <= written, (folders, written)
    assert f"/{g['OUT']}/" in (REPO / ".gitignore").read_text().splitlines()
