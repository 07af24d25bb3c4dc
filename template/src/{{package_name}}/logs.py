"""Structured logs with structlog over the standard library's logging (pattern code).

Every record, from this service, Litestar or uvicorn, goes through one
:class:`structlog.stdlib.ProcessorFormatter`: JSON lines (``WS_LOG_FORMAT=json``, what the
container image sets) or aligned, coloured console lines (``console``, the default on a
terminal). Exceptions come with their traceback (a ``exception`` field in JSON). The recipe is
structlog's "Rendering using structlog-based formatters within logging"
(https://www.structlog.org/en/stable/standard-library.html).
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["json", "console"]

_SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(log_format: LogFormat, *, level: int = logging.INFO) -> None:
    """Route structlog and standard-library records to stderr in ``log_format``.

    Replaces the root logger's handlers; uvicorn's loggers propagate to it (run uvicorn with
    ``log_config=None`` so that it keeps them that way).
    """
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        final: list[structlog.typing.Processor] = [structlog.processors.format_exc_info, renderer]
    else:
        final = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
