"""nanoGPT-style configuration: UPPER_CASE constants at the top of a script,
overridable from the command line as ``--lower_case_name value``.

The value is parsed to the type of the constant's default (``bool`` accepts
true/false/1/0/yes/no, and a ``bool`` flag given alone, ``--quick``, means true;
an ``int`` constant refuses ``1.5``; a ``float`` accepts ``1e-4``; a ``None``
default accepts any string or ``none``). Unknown flags, badly typed values and
values outside a stage's allowed range raise :class:`~rolo.errors.ConfigError`
naming the flag.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Callable, Mapping

from .errors import ConfigError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class Config(dict):
    """The resolved settings of one run: ``cfg.EPOCHS`` or ``cfg["EPOCHS"]``.

    ``given``: the names set on the command line, so that a stage can tell a flag the user
    typed (which must agree with a checkpoint) from a default (which follows the checkpoint).
    """

    given: frozenset = frozenset()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_json(self) -> str:
        return json.dumps(dict(self), sort_keys=True)

    def show(self, title: str = "settings", file=None) -> None:
        file = file or sys.stdout
        print(f"{title}:", file=file)
        width = max((len(k) for k in self), default=0)
        for k, v in self.items():
            print(f"  {k.ljust(width)} = {v!r}", file=file)


def script_constants(script_globals: Mapping[str, Any]) -> dict:
    """The UPPER_CASE constants of a script's namespace, in definition order."""
    return {
        k: v for k, v in script_globals.items()
        if k.isupper() and not k.startswith("_") and isinstance(v, (bool, int, float, str, type(None)))
    }


def parse_value(flag: str, text: str, default: Any) -> Any:
    """Parse ``text`` to the type of ``default``; errors name ``flag``."""
    if isinstance(default, bool):
        t = text.strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        raise ConfigError(f"{flag}: expected true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{flag}: expected an integer, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{flag}: expected a number, got {text!r}") from None
    if default is None and text.strip().lower() == "none":
        return None
    return text


# ---- validators: each takes (flag, value) and raises ConfigError -------------

def choices(*allowed) -> Callable[[str, Any], None]:
    def check(flag, value):
        if value not in allowed:
            raise ConfigError(f"{flag}: {value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")
    return check


def at_least(low) -> Callable[[str, Any], None]:
    def check(flag, value):
        if value is None or value < low:
            raise ConfigError(f"{flag}: must be >= {low}, got {value!r}")
    return check


def between(low, high) -> Callable[[str, Any], None]:
    def check(flag, value):
        if value is None or not (low <= value <= high):
            raise ConfigError(f"{flag}: must be between {low} and {high}, got {value!r}")
    return check


def multiple_of(step: int) -> Callable[[str, Any], None]:
    def check(flag, value):
        if value is None or value < step or value % step:
            raise ConfigError(f"{flag}: must be a positive multiple of {step}, got {value!r}")
    return check


def constant_comments(path) -> dict[str, str]:
    """``NAME -> comment`` for each top-level ``NAME = value  # comment`` line of a script.

    Read with :mod:`tokenize`, so a ``#`` inside a string value is not a comment. A file that
    cannot be read gives no comments (``--help`` then lists the names and values alone).
    """
    import tokenize

    comments: dict[str, str] = {}
    try:
        with tokenize.open(path) as f:
            line_tokens: list = []
            for tok in tokenize.generate_tokens(f.readline):
                if tok.type in (tokenize.NEWLINE, tokenize.NL):
                    first = line_tokens[0] if line_tokens else None
                    if (first and first.type == tokenize.NAME and first.start[1] == 0 and len(line_tokens) > 2
                            and line_tokens[1].string == "=" and line_tokens[-1].type == tokenize.COMMENT):
                        comments[first.string] = line_tokens[-1].string.lstrip("#").strip()
                    line_tokens = []
                elif tok.type not in (tokenize.INDENT, tokenize.DEDENT):
                    line_tokens.append(tok)
    except (OSError, SyntaxError, tokenize.TokenError):
        return {}
    return comments


def usage(doc: str | None, defaults: Mapping[str, Any], comments: Mapping[str, str] | None = None) -> str:
    comments = comments or {}
    lines = [(doc or "").strip(), "", "constants (override with --name value):"]
    flags = {k: f"--{k.lower()} {v!r}" for k, v in defaults.items()}
    width = max(map(len, flags.values()), default=0)
    for k, flag in flags.items():
        lines.append(f"  {flag.ljust(width)}  # {comments[k]}" if k in comments else f"  {flag}")
    return "\n".join(lines)


def from_script(script_globals: Mapping[str, Any], argv=None,
                checks: Mapping[str, Callable] | None = None) -> Config:
    """Resolve a script's constants against ``argv`` (default ``sys.argv[1:]``).

    ``checks`` maps a constant name to a validator (see :func:`choices`,
    :func:`at_least`); only names present in the script are checked.
    """
    defaults = script_constants(script_globals)
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = Config(defaults)
    given: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            path = script_globals.get("__file__")
            print(usage(script_globals.get("__doc__"), defaults, constant_comments(path) if path else {}))
            raise SystemExit(0)
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r}; flags look like --name value")
        body = arg[2:]
        if "=" in body:
            name, text = body.split("=", 1)
            i += 1
        elif isinstance(defaults.get(body.upper()), bool) and (i + 1 >= len(argv) or argv[i + 1].startswith("--")):
            name, text = body, "true"  # a switch given alone: --quick
            i += 1
        else:
            if i + 1 >= len(argv):
                raise ConfigError(f"{arg}: missing value")
            name, text = body, argv[i + 1]
            i += 2
        key = name.upper()
        if key not in defaults:
            known = ", ".join(f"--{k.lower()}" for k in defaults)
            raise ConfigError(f"unknown flag --{name}; known flags: {known}")
        cfg[key] = parse_value(f"--{name}", text, defaults[key])
        given.add(key)
    for key, check in (checks or {}).items():
        if key in cfg:
            check(f"--{key.lower()}", cfg[key])
    cfg.given = frozenset(given)
    return cfg
