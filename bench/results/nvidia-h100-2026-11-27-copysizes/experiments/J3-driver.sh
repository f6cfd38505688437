#!/bin/bash
# J3: copy rate by size with evict-first and bulk (TMA) copies; the slow state and one kernel on the legacy stream.
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
gunzip -f .scratch/stream_state.gz; chmod +x .scratch/stream_state
./.scratch/copy_sizes > $OUT/J3-copy_sizes.md 2>&1; echo "copy_sizes rc=$?"
./.scratch/stream_state 65536 > $OUT/J3-stream_state.md 2>&1; echo "stream_state rc=$?"
cat $OUT/J3-copy_sizes.md $OUT/J3-stream_state.md
