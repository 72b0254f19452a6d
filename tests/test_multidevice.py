"""1 device vs 8 virtual CPU devices (jit + sharding), and the pmap path, in a subprocess."""

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np
from gen_jax import config as config_lib, data, registry
from gen_jax.train import loop, sharding

config = config_lib.override(config_lib.load("classifier", "tiny"), [
    f"data.data_dir={sys.argv[1]}", "optimizer.name=sgd", "optimizer.learning_rate=0.5"])
batches = data.Batches(data.load(config.data)["train"], config.data.batch_size, seed=0)
keys, steps = loop.run_keys(0), 6
family = registry.build(config)
init = family.init(keys.init, batches.batch(0))

def jit_run(mesh):
  update = loop.compile_update(family.update, mesh)
  state = sharding.replicate(family.init(keys.init, batches.batch(0)), mesh)  # donated below
  for s in range(steps):
    state, _ = update(state, sharding.shard_batch(batches.batch(s), mesh), keys.train)
  return jax.device_get(state.params)

def pmap_run(n):
  update = jax.pmap(registry.build(config, axis_name="batch").update, axis_name="batch", in_axes=(0, 0, None))
  state = jax.tree.map(lambda x: jnp.stack([x] * n), init)
  for s in range(steps):
    batch = {k: v.reshape(n, -1, *v.shape[1:]) for k, v in batches.batch(s).items()}
    state, metrics = update(state, batch, keys.train)
  return jax.tree.map(lambda x: np.asarray(x[0]), state.params)

def diff(a, b):
  return max(float(np.max(np.abs(x - y))) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

one, eight = jit_run(sharding.make_mesh(jax.devices()[:1])), jit_run(sharding.make_mesh())
pmapped = pmap_run(jax.device_count())
config = config_lib.override(config, ["train.num_steps=10"])
results = loop.train(config, sys.argv[2])
print(json.dumps({"devices": jax.device_count(), "one_vs_eight": diff(one, eight), "pmap_vs_jit": diff(pmapped, eight),
                  "moved": diff(one, init.params), "loop_step": results["step"]}))
"""


def test_eight_devices_match_one_and_pmap_matches_jit(mnist_dir, tmp_path):
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
  proc = subprocess.run([sys.executable, "-c", SCRIPT, str(mnist_dir), str(tmp_path / "run")], env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["devices"] == 8
  assert out["moved"] > 1e-3  # SGD really moved the parameters
  assert out["one_vs_eight"] < 1e-5
  assert out["pmap_vs_jit"] < 1e-5
  assert out["loop_step"] == 10  # the whole loop runs data-parallel on 8 devices
