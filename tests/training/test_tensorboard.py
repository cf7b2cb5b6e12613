"""`tensorboard: true` (pip install "kspec[tensorboard]"): the event files of a run, read back with TensorBoard's
own reader: scalars per epoch for training and validation, a histogram per weight, and the Keras model graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import kspec
from kspec.training import trainer

pytestmark = pytest.mark.keras

SPEC = {
    "kspec": 1,
    "name": "board",
    "model": {
        "inputs": {"x": {"shape": [64]}},
        "layers": [
            {"type": "Dense", "name": "hidden", "units": 16, "activation": "relu"},
            {"type": "Dense", "name": "probs", "units": 10, "activation": "softmax"},
        ],
    },
    "data": {"source": "digits",
             "preprocess": [{"type": "scale", "divide": 16}, "one_hot", {"type": "take", "count": 300}]},
    "train": {"loss": "categorical_crossentropy", "metrics": ["accuracy"], "epochs": 2, "batch_size": 50,
              "validation_split": 0.2, "seed": 0, "tensorboard": True, "plots": "none", "jit_compile": False},
}  # fmt: skip


@pytest.mark.parametrize("feed", ["resident", "tf.data"])
def test_run_writes_event_files_tensorboard_reads(tmp_path: Path, feed: str) -> None:
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    doc = json.loads(json.dumps(SPEC))
    doc["train"]["feed"] = feed
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = trainer.train(kspec.load(path), out=tmp_path / "run")
    logs = result.run_dir / "tensorboard"
    readers = EventMultiplexer().AddRunsFromDirectory(str(logs))
    readers.Reload()
    assert {"train", "validation"} <= set(readers.Runs())
    train = readers.GetAccumulator("train")
    plugins = {tag: train.SummaryMetadata(tag).plugin_data.plugin_name for tag in train.Tags()["tensors"]}
    assert plugins["epoch_loss"] == "scalars" and len(train.Tensors("epoch_loss")) == 2
    histograms = [tag for tag, plugin in plugins.items() if plugin == "histograms"]
    assert any("hidden" in t and "kernel" in t for t in histograms), histograms
    assert all(len(train.Tensors(t)) == 2 for t in histograms)  # one per epoch
    graph = [tag for tag, plugin in plugins.items() if plugin == "graph_keras_model"]
    assert graph, plugins
    config = json.loads(train.Tensors(graph[0])[0].tensor_proto.string_val[0])
    assert [layer["name"] for layer in config["config"]["layers"]][-2:] == ["hidden", "probs"]
    validation = readers.GetAccumulator("validation")
    assert len(validation.Tensors("epoch_loss")) == 2
