"""What importing gen_jax does to the process: deterministic GPU kernels, and nothing else."""

import os
import subprocess
import sys

SCRIPT = "import os, gen_jax; print(os.environ.get('XLA_FLAGS', ''))"


def flags_after_import(**env) -> str:
  base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "GEN_JAX_DETERMINISTIC")}
  proc = subprocess.run([sys.executable, "-c", SCRIPT], env={**base, **env}, capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0, proc.stderr
  return proc.stdout.strip()


def test_import_asks_for_deterministic_gpu_kernels_and_keeps_the_users_flags():
  assert flags_after_import() == "--xla_gpu_deterministic_ops=true"
  kept = flags_after_import(XLA_FLAGS="--xla_force_host_platform_device_count=8")
  assert kept == "--xla_force_host_platform_device_count=8 --xla_gpu_deterministic_ops=true"
  assert flags_after_import(XLA_FLAGS="--xla_gpu_deterministic_ops=false") == "--xla_gpu_deterministic_ops=false"
  assert flags_after_import(GEN_JAX_DETERMINISTIC="0") == ""
