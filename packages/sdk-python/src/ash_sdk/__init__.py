"""ash_sdk — Python client of the Ash API (distribution ``ash-ai-sdk``).

``AshClient`` (sync) and ``AsyncAshClient`` (async) cover agents, sessions, streaming turns,
history, files, attachments, workspaces, credentials, API keys, the queue and usage. Stream
events are in :mod:`ash_sdk.streaming`, errors in :mod:`ash_sdk.errors`.
"""

from . import errors, models, streaming
from .client import DEFAULT_BASE_URL, AshClient, AsyncAshClient, __version__
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .models import *  # noqa: F403
from .models import __all__ as _models_all
from .streaming import *  # noqa: F403
from .streaming import __all__ as _streaming_all

__all__ = [
    "DEFAULT_BASE_URL",
    "AshClient",
    "AsyncAshClient",
    "__version__",
    "errors",
    "models",
    "streaming",
    *_errors_all,
    *_models_all,
    *_streaming_all,
]
