#!/usr/bin/env bash
# Time to first forward and peak RSS of the Wan2.1-T2V-1.3B DiT loaded from a torch.save .pt (read by the Java
# pickle reader, mapped) against the same architecture from safetensors (mapped), side by side in one run.
#
#   tools/bench/pt_vs_safetensors.sh [DIR]     (default /tmp/diagonal-pt-bench; RUNS=3, PYTHON=/work/venv/bin/python)
#
# Writes DIR/dit.pt with tools/bench/write_random_pt.py (torch.save, bf16, Self-Forcing's nesting) and
# DIR/dit.safetensors with `diagonal random-weights --config t2v-1.3b --weight-dtype bf16`, unless they exist.
# Each run is a fresh JVM streaming one chunk of one latent frame (2x2 latents: one token) with one step, so the
# process time is dominated by opening the checkpoint, loading the DiT and one forward that reads every weight.
# Runs alternate between the files, after the files were just written (page cache warm for both). Reported:
# the median wall time of the whole process, the engine's own first-chunk time, and the peak RSS (mapped weight
# pages the forward touched count, for both formats alike). Delete DIR afterwards: the files are 2.8 GB each.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:-/tmp/diagonal-pt-bench}
py=${PYTHON:-/work/venv/bin/python}
runs=${RUNS:-3}
mkdir -p "$dir"
cd "$here"
[[ -f $dir/dit.pt ]] || "$py" tools/bench/write_random_pt.py --out "$dir/dit.pt"
[[ -f $dir/dit.safetensors ]] || ./diagonal random-weights --config t2v-1.3b --weight-dtype bf16 --out "$dir/dit.safetensors"

declare -A wall first rss open
for ((i = 1; i <= runs; i++)); do
  for f in pt safetensors; do
    log=$dir/run-$f-$i.log
    /usr/bin/time -f "TIME %e %M" ./diagonal generate-latents --config t2v-1.3b --weights "$dir/dit.$f" \
      --chunks 1 --chunk-frames 1 --latent-height 2 --latent-width 2 --schedule 1000 --threads "$(nproc)" \
      --out "$dir/latents-$f.safetensors" > "$log" 2>&1 || { cat "$log"; exit 1; }
    read -r _ w m < <(grep '^TIME ' "$log")
    wall[$f]+="$w "
    rss[$f]+="$m "
    first[$f]+="$(sed -n 's/.*first chunk \([0-9.]*\) ms.*/\1/p' "$log" | head -1) "
    open[$f]+="$(sed -n 's/^weights: [0-9]* tensors indexed in \([0-9.]*\) ms/\1/p' "$log" | head -1) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-12s %9s %10s %22s %17s %14s\n' format "size GB" "open (ms)" "process to 1st out (s)" \
  "1st forward (ms)" "peak RSS (MB)"
for f in pt safetensors; do
  size=$(stat -c %s "$dir/dit.$f")
  printf '%-12s %9.2f %10s %22s %17s %14d\n' "$f" "$(awk -v s="$size" 'BEGIN {print s / 1e9}')" \
    "$(echo "${open[$f]}" | median)" "$(echo "${wall[$f]}" | median)" "$(echo "${first[$f]}" | median)" \
    "$(( $(echo "${rss[$f]}" | median) / 1024 ))"
done
grep -h '^weights: dit.pt' "$dir/run-pt-1.log" || true
echo "runs: $runs each, alternating; all values are medians (logs in $dir)"
