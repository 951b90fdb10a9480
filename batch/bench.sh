#!/usr/bin/env bash
# Clips per minute, side by side in one run: the same N prompts made one by one with './diagonal generate'
# (a fresh JVM per clip, as a shell loop would), and as one 'diagonal batch' job on 1 and on 2 Spark
# executors. The executors are real JVMs (Spark's local-cluster master: a standalone master and workers in
# this process, executors launched as child processes), each given the same 2 cores in total: 1 executor
# running 1 task at a time on 2 threads, or 2 executors of 1 core running 1 task each on 1 thread.
# Usage: batch/bench.sh [N (default 6)] [OUT (default /tmp/diagonal-batch-bench)]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${1:-6}
out=${2:-/tmp/diagonal-batch-bench}
rm -rf "$out" && mkdir -p "$out"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

prompts=("a blue square moving down on a black background" "a blue square moving left on a dark blue background"
  "a blue square moving right on a gray background" "a blue square moving up on a black background"
  "a green circle moving down on a dark blue background" "a green circle moving left on a gray background"
  "a red circle moving right on a black background" "a yellow triangle moving up on a white background")
: > "$out/prompts.jsonl"
for ((i = 0; i < n; i++)); do
  printf '{"prompt": "%s", "seed": %d}\n' "${prompts[i % ${#prompts[@]}]}" "$i" >> "$out/prompts.jsonl"
done

# Builds both jars first, so no timing below pays for a build.
"$here/diagonal" help > /dev/null
"$here/diagonal" batch --help > /dev/null

# local-cluster launches executors through Spark's launcher, which wants a Spark home with a jars/ folder:
# one made of links to the jars Maven fetched.
home=$here/target/spark/home
rm -rf "$home" && mkdir -p "$home/jars"
tr ':' '\n' < "$here/target/spark/spark-classpath.txt" | while read -r j; do ln -s "$j" "$home/jars/"; done
export SPARK_HOME=$home SPARK_SCALA_VERSION=2.13

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f", n / (s / 60) }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $n clips of the shipped model's default stream (83 frames of 64x64)"
t0=$(now)
for ((i = 0; i < n; i++)); do
  "$here/diagonal" generate "${prompts[i % ${#prompts[@]}]}" --seed "$i" --out "$out/generate-$i.y4m" > "$out/generate-$i.log" 2>&1
done
t1=$(now)
gen_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

run_batch() { # name master task-cpus
  local t0 t1
  t0=$(now)
  # Executors are JVMs of their own: they need the batch jar and the engine's JVM flags too.
  "$here/diagonal" batch --prompts "$out/prompts.jsonl" --out "$out/$1" --master "$2" --conf spark.task.cpus="$3" \
    --conf spark.jars="$here/target/spark/diagonal-batch.jar" \
    --conf spark.executor.extraJavaOptions="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED" \
    > "$out/$1.log" 2>&1
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
one_s=$(run_batch one-executor 'local-cluster[1,2,2048]' 2)
two_s=$(run_batch two-executors 'local-cluster[2,1,2048]' 1)
# For comparison: the embedded default, one JVM whose 2 task slots share one mapped model.
emb_s=$(run_batch embedded 'local[2]' 1)

same=0
for d in one-executor two-executors embedded; do
  for f in "$out/$d"/clips/*.y4m; do
    for ((i = 0; i < n; i++)); do cmp -s "$f" "$out/generate-$i.y4m" && same=$((same + 1)) && break; done
  done
done

printf '%-44s %8s %10s  %s\n' "run" "wall s" "clips/min" "job's own line"
printf '%-44s %8.1f %10s\n' "generate, one process per clip (2 threads)" "$gen_s" "$(rate "$n" "$gen_s")"
printf '%-44s %8.1f %10s  %s\n' "batch, 1 executor x 2 cores, 1 task x 2 thr" "$one_s" "$(rate "$n" "$one_s")" \
  "$(grep -o '[0-9.]* clips/min' "$out/one-executor.log")"
printf '%-44s %8.1f %10s  %s\n' "batch, 2 executors x 1 core, 1 task x 1 thr" "$two_s" "$(rate "$n" "$two_s")" \
  "$(grep -o '[0-9.]* clips/min' "$out/two-executors.log")"
printf '%-44s %8.1f %10s  %s\n' "batch, embedded local[2], 2 tasks x 1 thr" "$emb_s" "$(rate "$n" "$emb_s")" \
  "$(grep -o '[0-9.]* clips/min' "$out/embedded.log")"
echo "clips byte-identical to generate's: $same of $((3 * n)); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
