#!/usr/bin/env bash
# E4 (H100): install, the repeat-path host probe (quiet), GPU pytest of the repeats and the
# Metadata.empty buffers (also under memcheck), then memcheck and initcheck over the CUDA tests.
set -u
cd "$(dirname "$0")/.."
R=$OUT/e4; mkdir -p $R
exec > >(tee $R/log.txt) 2>&1
echo "tree: $(cat .scratch/commit.txt)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
t0=$SECONDS
python3 -m pip install -q --no-deps --no-build-isolation . -C build-dir=build/python > $R/pip.txt 2>&1
echo "pip rc=$? $((SECONDS - t0)) s"
python3 bench/probes/repeat_path.py --rounds 9 > $R/repeat_path.md 2>&1
echo "probe rc=$? $((SECONDS - t0)) s"; cat $R/repeat_path.md
{ cmake -S . -B build/cpp -G Ninja -DSPECMETA_TESTS=ON && cmake --build build/cpp -j 12 --target specmeta_tests; } > $R/build.txt 2>&1 &
bpid=$!
python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_repeats.py tests/python/test_metadata_gpu.py > $R/pytest.txt 2>&1
echo "pytest rc=$? $((SECONDS - t0)) s"; tail -n 2 $R/pytest.txt
PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 1 \
  python3 -m pytest -q -p no:cacheprovider tests/python/test_metadata_gpu.py -k metadata_empty > $R/sanitizer_buffers.txt 2>&1
echo "sanitizer-buffers rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/sanitizer_buffers.txt
wait $bpid; echo "build rc=$? $((SECONDS - t0)) s"
for tool in memcheck initcheck; do
  compute-sanitizer --tool $tool --error-exitcode 1 build/cpp/tests/cpp/specmeta_tests --gtest_brief=1 \
    --gtest_filter='*Cuda*:-*UseCudaDevice*' > $R/$tool.txt 2>&1
  echo "$tool rc=$? $((SECONDS - t0)) s"; tail -n 3 $R/$tool.txt
  [ $((SECONDS - t0)) -gt 450 ] && break
done
echo "done $((SECONDS - t0)) s"
tar -czf $OUT/e4.tgz -C $OUT e4
