"""Entry-point glue shared by the top-level scripts."""
from __future__ import annotations

import sys
from typing import Any, Callable, Mapping

from .errors import RoloError


def run(main: Callable[[Mapping[str, Any], list | None], Any], script_globals: Mapping[str, Any], argv=None) -> Any:
    """Call ``main(script_globals, argv)``; a :class:`RoloError` becomes one
    ``error:`` line on stderr and exit status 2 rather than a traceback."""
    try:
        return main(script_globals, argv)
    except RoloError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as e:
        # A stage may say what it kept and how to continue (training: the epoch --resume true restarts at).
        print(f"interrupted: {e}" if str(e) else "interrupted", file=sys.stderr)
        raise SystemExit(130) from None
