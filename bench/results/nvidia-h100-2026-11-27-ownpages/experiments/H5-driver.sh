#!/usr/bin/env bash
# H5 (tree cf8d424): install, the Python GPU and metadata tests, a soak.
set -u
cd "$(dirname "$0")/.."
R=$OUT/h5; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_gpu.py tests/python/test_metadata_repeats.py tests/python/test_metadata_properties.py tests/python/test_soak.py > $R/pytest.txt 2>&1
echo "pytest rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/pytest.txt
python3 tests/soak/soak.py --replays 20000 --check-every 1000 > $R/soak.txt 2>&1
echo "soak rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/soak.txt
echo "done $((SECONDS - t0)) s"
