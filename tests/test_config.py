"""Configs: loading variants, overrides, and the errors that list the valid choices."""

import pytest

from gen_jax import config as config_lib
from gen_jax import registry


def test_variants_load_and_differ():
  mlp, cnn, tiny = (config_lib.load("classifier", v) for v in ("mlp", "cnn", "tiny"))
  assert mlp.net.hidden == (512,) and mlp.optimizer.name == "rmsprop" and mlp.train.num_epochs == 5
  assert mlp.data.batch_size == 128 and mlp.data.scale == "unit"
  assert cnn.net.arch == "cnn" and tiny.data.train_examples == 2048


def test_override_parses_by_type():
  config = config_lib.override(config_lib.load("classifier", "mlp"),
                               ["optimizer.learning_rate=3", "net.hidden=[32,16]", "data.scale=symmetric",
                                "train.progress_bar=False"])
  assert config.optimizer.learning_rate == 3.0 and isinstance(config.optimizer.learning_rate, float)
  assert config.net.hidden == (32, 16) and config.data.scale == "symmetric"
  assert config.train.progress_bar is False


def test_unknown_key_lists_valid_ones():
  with pytest.raises(KeyError, match="valid keys: .*optimizer.learning_rate"):
    config_lib.override(config_lib.load("classifier", "mlp"), ["optimizer.lr=1"])


def test_wrong_type_is_refused():
  with pytest.raises(TypeError, match="expects int"):
    config_lib.override(config_lib.load("classifier", "mlp"), ["data.batch_size=big"])


def test_unknown_variant_and_model():
  with pytest.raises(ValueError, match="valid: mlp, cnn, tiny"):
    config_lib.load("classifier", "huge")
  with pytest.raises(FileNotFoundError, match="configs exist for: .*classifier"):
    config_lib.load("nomodel")
  config = config_lib.load("classifier", "tiny")
  config.model = "nomodel"
  with pytest.raises(ValueError, match="valid models: .*classifier"):
    registry.build(config)


def test_structural_config_ignores_resumable_keys_only():
  a = config_lib.load("classifier", "tiny")
  b = config_lib.override(a, ["train.num_steps=99", "data.data_dir=/x", "train.log_every=1"])
  c = config_lib.override(a, ["optimizer.learning_rate=0.5"])
  assert config_lib.structural(a) == config_lib.structural(b) != config_lib.structural(c)


def test_json_round_trip_keeps_the_structural_config(tmp_path):
  a = config_lib.load("classifier", "cnn")
  config_lib.save_json(a, tmp_path / "c.json")
  assert config_lib.structural(config_lib.load_json(tmp_path / "c.json")) == config_lib.structural(a)
