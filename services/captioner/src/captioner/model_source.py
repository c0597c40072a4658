"""Where a local model's files come from: a directory, the Hugging Face cache, or the hub.

Everything here blocks (file system, network): call it in a thread. Without a network,
``huggingface_hub`` retries a download for minutes (measured here: 144 s before it gives up),
so a model missing from the cache is only downloaded after a quick TCP probe of the hub says
the hub is reachable at all.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from videosense_shared.backends import BackendUnavailableError

# Weights in formats transformers' PyTorch classes never read: not worth downloading.
_IGNORED_FILES = ["*.h5", "*.msgpack", "*.onnx", "*.onnx_data", "*.tflite", "*.ot", "*.mlmodel"]


def _looks_like_path(ref: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else with a slash or a leading dot/tilde is
    # meant as a directory, and a missing directory must not be mistaken for a hub id.
    return ref.startswith(("/", ".", "~")) or ref.count("/") > 1 or "\\" in ref


def probe_hub(endpoint: str, timeout_s: float) -> None:
    """Check that the hub accepts a TCP connection within ``timeout_s``.

    Raises:
        OSError: name resolution or the connection failed, or timed out.
    """
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((host, port), timeout=timeout_s):
        pass


def resolve_model_dir(
    ref: str, *, offline: bool, probe_timeout_s: float, hub_endpoint: str | None = None
) -> Path:
    """Return a local directory holding the model ``ref`` (a directory or a hub id).

    Order: an existing directory; the Hugging Face cache; a download, unless ``offline`` or the
    hub does not answer.

    Raises:
        BackendUnavailableError: the model is nowhere to be had, with the reason.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    if _looks_like_path(ref):
        raise BackendUnavailableError(f"local model directory {ref!r} does not exist")
    try:
        return Path(snapshot_download(ref, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError):
        pass
    cache = constants.HF_HUB_CACHE
    if offline or constants.HF_HUB_OFFLINE:
        raise BackendUnavailableError(
            f"model {ref!r} is not a local directory nor in the Hugging Face cache ({cache}), "
            "and downloads are off (HF_HUB_OFFLINE / VIDEOSENSE_CAPTIONER_OFFLINE)"
        )
    endpoint = hub_endpoint or constants.ENDPOINT
    try:
        probe_hub(endpoint, probe_timeout_s)
    except OSError as err:
        raise BackendUnavailableError(
            f"model {ref!r} is not in the Hugging Face cache ({cache}) and the hub {endpoint} "
            f"is unreachable ({err}); download it elsewhere and set VIDEOSENSE_CAPTIONER_MODEL "
            "to its directory"
        ) from err
    try:
        return Path(snapshot_download(ref, ignore_patterns=_IGNORED_FILES))
    except Exception as err:  # hub errors are many (gated, missing, HTTP): all end the same
        raise BackendUnavailableError(
            f"could not download model {ref!r} from {endpoint}: {type(err).__name__}: {err}"
        ) from err
