"""Logging to stderr and progress bars that stay quiet when stderr is not a terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def setup_logging(verbosity: int = 0) -> None:
    """Configure the root ``seqgx`` logger: INFO by default, DEBUG with ``-v``, WARNING with ``-q``."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    logger = logging.getLogger("seqgx")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s seqgx %(levelname)s: %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("seqgx") else f"seqgx.{name}")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Wrap a long loop in a progress bar on stderr, shown only when stderr is a terminal."""
    return iter(tqdm(items, desc=desc, total=total, file=sys.stderr, disable=not sys.stderr.isatty(),
                     leave=False))
