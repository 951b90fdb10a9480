#!/usr/bin/env bash
# The CUDA backend's GPU tests (JUnit tag "gpu": every op against the CPU backend, the tiny DiT forward) on a
# machine that has an NVIDIA GPU but neither Java nor Maven, such as the device machine.
#
# Prepare, here, in the repository root (JDK 25 and Maven; the PTX must be current):
#   kernels/build.sh --check || kernels/build.sh     # the kernels' PTX (build needs nvcc)
#   mvn -q -o -Pgpu test-compile                     # target/classes, target/test-classes and, from the gpu
#                                                    # profile, target/gpu-libs (test jars + JUnit console launcher)
#   ../shared/scripts/make-device-jre.sh             # .device/jre.tgz, a jlink'd Java 25 (~25 MB)
#   x="$(git rev-parse --git-common-dir)/info/exclude"; grep -qx /.device/ "$x" || echo /.device/ >> "$x"
#   du -shc target/classes target/test-classes target/gpu-libs .device   # about 40 MB; with the ~13 MB tree under 64 MiB
# Run, with the device tool, from the repository root (one call; the tests take a minute or two):
#   run(command="tools/gpu/check.sh", timeout_s=480,
#       carry=["target/classes", "target/test-classes", "target/gpu-libs", ".device"])
# It prints the device, each test, and a summary; the full log also goes to $OUT/gpu-check.log when $OUT is
# set. Exit status: JUnit's (0 all passed, 1 a failure), 2 when something to run with is missing, 3 when no GPU
# test ran at all (no GPU, or the backend could not open: the log says why).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

for need in target/classes target/test-classes target/gpu-libs .device/jre.tgz; do
    if [ ! -e "$need" ]; then
        echo "check.sh: $need is missing; see the preparation steps at the top of this script" >&2
        exit 2
    fi
done
launcher=$(ls target/gpu-libs/junit-platform-console-standalone-*.jar 2>/dev/null | head -1)
if [ -z "$launcher" ]; then
    echo "check.sh: no JUnit console launcher in target/gpu-libs; run mvn -q -o -Pgpu test-compile" >&2
    exit 2
fi

log=${OUT:+$OUT/gpu-check.log}
log=${log:-/tmp/gpu-check.log}
{
    echo "== machine"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    else
        echo "no nvidia-smi on PATH"
    fi

    echo "== java"
    jre=/tmp/diagonal-jre
    if [ ! -x "$jre/jre/bin/java" ]; then
        mkdir -p "$jre" && tar xzf .device/jre.tgz -C "$jre"
    fi
    java="$jre/jre/bin/java"
    "$java" -version 2>&1 | head -1

    echo "== cuBLAS"
    # The backend dlopens libcublas.so.13 (or .12); where it is not in the loader's cache, point at its folder.
    if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.1[23]'; then
        dir=$(find /usr/local/cuda/lib64 /usr/local/cuda/targets /usr/lib /usr/local/lib /opt \
                -name 'libcublas.so.1[23]' 2>/dev/null | head -1 | xargs -r dirname)
        if [ -n "$dir" ]; then
            export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        fi
    fi
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

    echo "== tests"
    cp="target/test-classes:target/classes"
    for jar in target/gpu-libs/*.jar; do
        [ "$jar" = "$launcher" ] || cp="$cp:$jar"
    done
    # Same JVM flags as Maven's surefire (pom.xml diagonal.jvm.flags). No XML report: the runtime has no java.xml.
    "$java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Djava.io.tmpdir=/tmp \
        -jar "$launcher" execute --disable-banner --disable-ansi-colors --details=tree --class-path "$cp" \
        --scan-class-path target/test-classes --include-tag gpu
    echo "junit exit status $?"
} 2>&1 | tee "$log"

status=$(grep -o 'junit exit status [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
succeeded=$(grep -o '\[ *[0-9]* tests successful *\]' "$log" | tail -1 | grep -o '[0-9]\+')
echo "== summary: junit status ${status:-none}, ${succeeded:-0} GPU tests passed; log $log"
if [ "${status:-2}" = 0 ] && [ "${succeeded:-0}" = 0 ]; then
    echo "no GPU test ran: see the log for why the backend did not open" >&2
    exit 3
fi
exit "${status:-2}"
