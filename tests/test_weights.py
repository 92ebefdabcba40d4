"""Tests of fmltc_core.weights: safetensors round trips, never unpickling."""

import pathlib
import pickle

import pytest
import torch

from fmltc_core.models import Autoencoder, Detector
from fmltc_core.weights import load_detector, load_model, load_weights, save_weights


@pytest.mark.parametrize("n_classes", [2, 4])
def test_detector_round_trip_is_exact(tmp_path, n_classes):
    model = Detector(9, n_classes, hidden=(12, 10, 7), latent=5, seed=3)
    path = save_weights(model, tmp_path / "w0.safetensors", metadata={"seed": "3"})

    state, metadata = load_weights(path)
    assert set(state) == set(model.state_dict())
    for name, value in model.state_dict().items():
        assert torch.equal(state[name], value)
    assert metadata["class"] == "Detector"
    assert metadata["n_features"] == "9"
    assert metadata["n_classes"] == str(n_classes)
    assert metadata["hidden"] == "[12, 10, 7]"
    assert metadata["latent"] == "5"
    assert metadata["seed"] == "3"

    rebuilt = load_detector(path)
    x = torch.randn(4, 9, generator=torch.Generator().manual_seed(0))
    model.eval()
    assert torch.equal(rebuilt(x), model(x))


def test_state_dict_and_autoencoder_round_trip(tmp_path):
    model = Autoencoder(6, hidden=(5,), bottleneck=2, seed=1)
    path = save_weights(model, tmp_path / "ae.safetensors")
    rebuilt = load_model(path)
    assert isinstance(rebuilt, Autoencoder)
    assert all(
        torch.equal(rebuilt.state_dict()[n], v) for n, v in model.state_dict().items()
    )
    with pytest.raises(ValueError, match="must hold a Detector"):
        load_detector(path)

    state = {"a": torch.arange(6.0).reshape(2, 3)}
    save_weights(state, tmp_path / "raw.safetensors", metadata={"round": "2"})
    loaded, metadata = load_weights(tmp_path / "raw.safetensors")
    assert torch.equal(loaded["a"], state["a"]) and metadata == {"round": "2"}


def test_non_string_metadata_raises(tmp_path):
    with pytest.raises(ValueError, match="metadata must map str to str"):
        save_weights(Detector(3), tmp_path / "w.safetensors", metadata={"seed": 3})


class _LeavesAMark:
    """Unpickling this object creates a file: proof that a load unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pickle_renamed_safetensors_is_rejected_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(_LeavesAMark(marker)))
    with pytest.raises(ValueError, match="must be a safetensors file.*never unpickled"):
        load_weights(path)
    assert not marker.exists()


def test_torch_save_file_is_rejected(tmp_path):
    path = tmp_path / "torch.safetensors"
    torch.save(Detector(3).state_dict(), path)
    with pytest.raises(ValueError, match="looks like a pickle / torch.save file"):
        load_detector(path)


def test_truncated_file_is_rejected(tmp_path):
    path = save_weights(Detector(3), tmp_path / "w.safetensors")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="valid safetensors file"):
        load_weights(path)
