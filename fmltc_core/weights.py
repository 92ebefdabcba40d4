"""Saving and loading model weights with safetensors (never pickle).

W0 (the MAML-optimised initialisation of section 3.2) and the per-round client
and cluster models are stored as ``.safetensors`` files: a JSON header
(tensor names, dtypes, shapes and a str -> str metadata map) followed by raw
tensor bytes. Loading parses that format only and never unpickles, so a weights
file cannot execute code. The metadata records the architecture (class name,
``n_features``, ``n_classes``, hidden sizes, latent size) so that
:func:`load_detector` can rebuild a :class:`~fmltc_core.models.Detector`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from fmltc_core.models import Autoencoder, Detector

logger = logging.getLogger(__name__)

#: Metadata key holding the model class name.
CLASS_KEY = "class"

_HEADER_LENGTH_BYTES = 8


def _metadata_of(model: nn.Module) -> dict[str, str]:
    """Architecture metadata of a known model (class name and constructor sizes)."""
    config = model.config() if hasattr(model, "config") else {}
    metadata = {CLASS_KEY: type(model).__name__}
    for key, value in config.items():
        metadata[key] = (
            json.dumps(value) if isinstance(value, list | tuple) else str(value)
        )
    return metadata


def save_weights(
    model_or_state: nn.Module | Mapping[str, torch.Tensor],
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write a model's (or a state dict's) tensors to a safetensors file.

    Parameters
    ----------
    model_or_state : nn.Module or mapping of str to torch.Tensor
        A model (its ``state_dict()`` is saved and, for the models of
        :mod:`fmltc_core.models`, its architecture is added to the metadata) or
        a state dict.
    path : str or os.PathLike
        Destination file (parent folders are created).
    metadata : mapping of str to str, optional
        Extra metadata (e.g. seed, dataset, round). Keys and values must be
        strings; they override the automatic architecture entries.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    if isinstance(model_or_state, nn.Module):
        state = model_or_state.state_dict()
        full_metadata = _metadata_of(model_or_state)
    elif isinstance(model_or_state, Mapping):
        state = model_or_state
        full_metadata = {}
    else:
        raise ValueError(
            "model_or_state must be an nn.Module or a mapping of str to tensors, "
            f"got {type(model_or_state).__name__}"
        )
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(
                f"metadata must map str to str, got {key!r}: {value!r} "
                f"({type(value).__name__})"
            )
        full_metadata[key] = value

    tensors = {}
    for name, tensor in state.items():
        if not torch.is_tensor(tensor):
            raise ValueError(
                f"state values must be tensors, got {type(tensor).__name__} "
                f"for {name!r}"
            )
        # Own, contiguous CPU copies: safetensors refuses shared storage.
        tensors[name] = tensor.detach().cpu().contiguous().clone()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=full_metadata)
    logger.info("saved %d tensors to %s", len(tensors), path)
    return path


def _check_safetensors_header(path: Path) -> None:
    """Reject files that are not safetensors before the library parses them.

    A safetensors file starts with an 8-byte little-endian header length
    followed by a JSON object; pickles (``0x80``) and zip archives
    (``torch.save``, ``PK``) do not.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(_HEADER_LENGTH_BYTES + 1)
    reason = None
    if len(prefix) < _HEADER_LENGTH_BYTES + 1:
        reason = f"the file has only {size} bytes"
    else:
        header_length = int.from_bytes(prefix[:_HEADER_LENGTH_BYTES], "little")
        if header_length > size - _HEADER_LENGTH_BYTES:
            reason = (
                f"its header length field ({header_length}) exceeds the file size "
                f"({size} bytes)"
            )
        elif prefix[_HEADER_LENGTH_BYTES : _HEADER_LENGTH_BYTES + 1] != b"{":
            reason = "its header is not a JSON object"
    if reason is not None:
        if prefix[:1] == b"\x80" or prefix[:2] == b"PK":
            reason += " (it looks like a pickle / torch.save file)"
        raise ValueError(
            f"path must be a safetensors file, got {path}: {reason}; weights are "
            "only read from safetensors and never unpickled"
        )


def load_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a safetensors file written by :func:`save_weights`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    state_dict : dict of str to torch.Tensor
    metadata : dict of str to str

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid safetensors file (e.g. a pickle renamed
        ``.safetensors``); nothing is ever unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    _check_safetensors_header(path)
    try:
        state = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(
            f"path must be a valid safetensors file, got {path}: {error}"
        ) from error
    return state, metadata


def _int(metadata: Mapping[str, str], key: str, path: Path) -> int:
    if key not in metadata:
        raise ValueError(f"path {path} lacks the metadata entry {key!r}")
    return int(metadata[key])


def load_model(path: str | os.PathLike) -> nn.Module:
    """Rebuild the model saved at ``path`` from its metadata and load its weights.

    Supports :class:`~fmltc_core.models.Detector` and
    :class:`~fmltc_core.models.Autoencoder`. The model is returned in eval mode.
    """
    path = Path(path)
    state, metadata = load_weights(path)
    class_name = metadata.get(CLASS_KEY)
    if class_name == "Detector":
        model: nn.Module = Detector(
            _int(metadata, "n_features", path),
            _int(metadata, "n_classes", path),
            hidden=tuple(json.loads(metadata["hidden"])),
            latent=_int(metadata, "latent", path),
        )
    elif class_name == "Autoencoder":
        model = Autoencoder(
            _int(metadata, "n_features", path),
            hidden=tuple(json.loads(metadata["hidden"])),
            bottleneck=_int(metadata, "bottleneck", path),
        )
    else:
        raise ValueError(
            f"path {path} must hold a Detector or an Autoencoder, got metadata "
            f"class {class_name!r}"
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def load_detector(path: str | os.PathLike) -> Detector:
    """Rebuild a :class:`~fmltc_core.models.Detector` saved by :func:`save_weights`."""
    model = load_model(path)
    if not isinstance(model, Detector):
        raise ValueError(
            f"path {path} must hold a Detector, got {type(model).__name__}"
        )
    return model
