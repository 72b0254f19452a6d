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
assert config.net.dropout > 0  # the jit comparison also checks that dropout keys ignore the sharding
batches = data.Batches(data.load(config.data)["train"], config.data.batch_size, seed=0)
keys, steps = loop.run_keys(0), 6
family = registry.build(config)
init = family.init(keys.init, batches.batch(0))

def jit_run(mesh, family=family):
  update = loop.compile_update(family.update, mesh)
  state = sharding.replicate(family.init(keys.init, batches.batch(0)), mesh)  # donated below
  for s in range(steps):
    state, _ = update(state, sharding.shard_batch(batches.batch(s), mesh), keys.train)
  return jax.device_get(state.params)

# under pmap each device folds its index into the key (its own dropout mask), so pmap and jit
# agree only without dropout
no_dropout = config_lib.override(config, ["net.dropout=0.0"])

def pmap_run(n):
  update = jax.pmap(registry.build(no_dropout, axis_name="batch").update, axis_name="batch", in_axes=(0, 0, None))
  state = jax.tree.map(lambda x: jnp.stack([x] * n), init)
  for s in range(steps):
    batch = {k: v.reshape(n, -1, *v.shape[1:]) for k, v in batches.batch(s).items()}
    state, metrics = update(state, batch, keys.train)
  return jax.tree.map(lambda x: np.asarray(x[0]), state.params)

def diff(a, b):
  return max(float(np.max(np.abs(x - y))) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

one, eight = jit_run(sharding.make_mesh(jax.devices()[:1])), jit_run(sharding.make_mesh())
pmapped, eight_no_dropout = pmap_run(jax.device_count()), jit_run(sharding.make_mesh(), registry.build(no_dropout))
config = config_lib.override(config, ["train.num_steps=10"])
results = loop.train(config, sys.argv[2])
print(json.dumps({"devices": jax.device_count(), "one_vs_eight": diff(one, eight), "pmap_vs_jit": diff(pmapped, eight_no_dropout),
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


GMM_SCRIPT = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from gen_jax import config as config_lib, data, gmm, registry
from gen_jax.train import loop

rng = np.random.default_rng(0)
x = np.concatenate([rng.normal(size=(1000, 3)) + 4, rng.normal(size=(1003, 3)) - 4])  # 2003: padding needed
out = {"devices": jax.device_count()}
for kind in gmm.COVARIANCE_TYPES:
  sharded = gmm.fit(x, 3, key=jax.random.key(0), covariance_type=kind, tol=0, max_iter=20)
  single = gmm.fit(x, 3, key=jax.random.key(0), covariance_type=kind, tol=0, max_iter=20, shard=False)
  out[kind] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / (np.abs(np.asarray(b)) + 1)))
                  for a, b in zip(jax.tree.leaves(sharded.params), jax.tree.leaves(single.params)))

config = config_lib.load("gmm", "tiny")
split = data.load(config.data)["train"]
n = jax.device_count()
family, pfamily = registry.build(config), registry.build(config, axis_name="batch")
state = family.init(loop.run_keys(0).init, split)
jit_state, jit_metrics = jax.jit(family.update)(state, split, loop.run_keys(0).train)
stacked = jax.tree.map(lambda a: jnp.stack([a] * n), family.init(loop.run_keys(0).init, split))
batch = {k: v.reshape(n, -1, *v.shape[1:]) for k, v in split.items()}
p_state, p_metrics = jax.pmap(pfamily.update, axis_name="batch", in_axes=(0, 0, None))(stacked, batch, loop.run_keys(0).train)
out["pmap_vs_jit"] = max(float(np.max(np.abs(np.asarray(a)[0] - np.asarray(b))))
                         for a, b in zip(jax.tree.leaves(p_state.params), jax.tree.leaves(jit_state.params)))
out["ll"] = [float(p_metrics["log_likelihood"][0]), float(jit_metrics["log_likelihood"])]
print(json.dumps(out))
"""


def test_em_sharded_over_eight_devices_matches_one_and_pmap_matches_jit():
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
  proc = subprocess.run([sys.executable, "-c", GMM_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["devices"] == 8
  for kind in ("full", "diag", "spherical", "tied"):
    assert out[kind] < 1e-4, (kind, out[kind])
  assert out["pmap_vs_jit"] < 1e-4
  assert abs(out["ll"][0] - out["ll"][1]) < 1e-5


LATENT_SCRIPT = r"""
import json, sys
import jax, numpy as np
from gen_jax import config as config_lib, data, registry
from gen_jax.train import loop, sharding

out = {"devices": jax.device_count()}
for name in ("vae", "hvae", "aae", "dcgan", "ddpm"):
  config = config_lib.override(config_lib.load(name, "tiny"), [f"data.data_dir={sys.argv[1]}", "data.batch_size=48"])
  batches = data.Batches(data.load(config.data)["train"], config.data.batch_size, seed=0)
  family, keys = registry.build(config), loop.run_keys(0)

  def run(mesh):
    update = loop.compile_update(family.update, mesh)
    state = sharding.replicate(family.init(keys.init, batches.batch(0)), mesh)
    for s in range(4):  # the noise and the binarization are drawn for the global batch: device count does not matter
      state, _ = update(state, sharding.shard_batch(batches.batch(s), mesh), keys.train)
    return jax.device_get(state.params)

  one, eight = run(sharding.make_mesh(jax.devices()[:1])), run(sharding.make_mesh())
  out[name] = max(float(np.max(np.abs(a - b))) for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(eight)))

# diffusion sampling split over 8 devices draws the same images as on 1 (sample i: fold_in(key, i))
state = family.init(keys.init, batches.batch(0))
draw = lambda mesh: family.draw(sharding.replicate(state, mesh), jax.random.key(5), 16, labels=np.arange(16) % 10)
a, b = draw(sharding.make_mesh(jax.devices()[:1])), draw(sharding.make_mesh())
out["ddpm_samples"] = int(np.max(np.abs(a.astype(int) - b.astype(int))))
out["ddpm_samples_differing"] = float(np.mean(a != b))
print(json.dumps(out))
"""


def test_latent_variable_models_and_gans_on_eight_devices_match_one(mnist_dir):
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
  proc = subprocess.run([sys.executable, "-c", LATENT_SCRIPT, str(mnist_dir)], env=env, capture_output=True,
                        text=True, timeout=400)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["devices"] == 8
  for name in ("vae", "hvae", "aae", "dcgan", "ddpm"):  # dcgan: BatchNorm statistics of the global batch
    assert out[name] < 1e-5, (name, out[name])
  assert out["ddpm_samples"] <= 1 and out["ddpm_samples_differing"] < 0.01, out  # up to float rounding
