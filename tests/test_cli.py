"""The command line: list, train errors, eval, sample refusals."""

import json

from gen_jax import cli


def run(capsys, *argv):
  code = cli.main(list(argv))
  out, err = capsys.readouterr()
  return code, out, err


def test_list_names_models_and_variants(capsys):
  code, out, _ = run(capsys, "list")
  assert code == 0 and "classifier" in out and "mlp, cnn, tiny" in out


def test_eval_prints_one_json_line_and_writes_eval_json(capsys, tiny_run):
  code, out, err = run(capsys, "eval", "--workdir", str(tiny_run))
  assert code == 0, err
  printed = json.loads(out.strip())
  assert printed == json.loads((tiny_run / "eval.json").read_text())
  assert printed["step"] == 64 and 0 <= printed["test_accuracy"] <= 1


def test_sample_from_a_classifier_says_it_cannot(capsys, tiny_run, tmp_path):
  code, _, err = run(capsys, "sample", "--workdir", str(tiny_run), "--num", "4", "--seed", "0",
                     "--out", str(tmp_path / "s.npz"))
  assert code == 2 and "cannot sample" in err and not (tmp_path / "s.npz").exists()
  code, _, err = run(capsys, "eval", "--workdir", str(tiny_run), "--judge", str(tiny_run))
  assert code == 2 and "cannot sample" in err


def test_unknown_model_and_key_list_valid_choices(capsys, tmp_path, mnist_dir):
  code, _, err = run(capsys, "train", "nomodel", "--workdir", str(tmp_path / "w"))
  assert code == 2 and "classifier" in err
  code, _, err = run(capsys, "train", "classifier", "--config", "tiny", "--workdir", str(tmp_path / "w"),
                     "--data-dir", str(mnist_dir), "--config.optimizer.lr=1")
  assert code == 2 and "valid keys" in err and "optimizer.learning_rate" in err
  assert not (tmp_path / "w").exists()  # nothing written for a bad command


def test_missing_data_is_one_clear_line(capsys, tmp_path):
  code, _, err = run(capsys, "train", "classifier", "--config", "tiny", "--workdir", str(tmp_path / "w"),
                     "--data-dir", str(tmp_path / "nowhere"))
  assert code == 2 and "does not exist" in err and "GEN_JAX_DATA_DIR" in err
  assert "Traceback" not in err and not (tmp_path / "w").exists()


def test_eval_of_a_non_run_is_clear(capsys, tmp_path):
  code, _, err = run(capsys, "eval", "--workdir", str(tmp_path))
  assert code == 2 and "no config.json" in err


def test_bad_labels_and_out_are_refused(capsys, tiny_run, tmp_path):
  code, _, err = run(capsys, "sample", "--workdir", str(tiny_run), "--num", "2", "--seed", "0", "--out", str(tmp_path / "s.png"))
  assert code == 2 and ".npz" in err


def test_eval_refuses_overrides_outside_the_eval_block(capsys, tiny_run):
  code, _, err = run(capsys, "eval", "--workdir", str(tiny_run), "--config.net.hidden=[8]")
  assert code == 2 and "only --config.eval.KEY=VALUE" in err and "net.hidden" in err
