#!/usr/bin/env bash
# Builds fom_core and fom_demo natively on x86 against the paddlelite wheel's lite.so, runs them on the
# bundled demo model (ppfom/assets/synthetic64, 64x64) and compares every frame with ppfom's dygraph
# animation of the same inputs (relative motion, adapt scale). Also cross-compiles the same sources
# for arm64 (object files only: no ARM Paddle Lite library here), so a change that breaks the ARM
# build fails here too. The JNI bridge (demo/jni) is built against the JDK's jni.h and run from a
# plain Java program on this machine's JVM on the same inputs; its frames are compared too. Then
# deploy/android/check_host.sh checks what of the Android app builds here.
#
#   bash deploy/lite/test_native.sh [BUILD_DIR]
#
# The last line is `max difference N/255`; exit status 1 when N > 2 or anything fails, 75 when no
# Python 3.10 exists (paddlelite wheels stop at 3.10; build_lite.sh makes the venv on first use).
# Needs g++, g++-aarch64-linux-gnu (Debian), a JDK (javac, java) and ppfom's own environment as
# `python` ($PYTHON).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DEMO="$HERE/demo"
PYTHON="${PYTHON:-python}"
CXXFLAGS=(-std=c++14 -O2 -ffp-contract=off -Wall -Wextra -Werror -I"$DEMO" -I"$DEMO/lite_api")

if [ $# -gt 0 ]; then B="$1"; mkdir -p "$B"; else B="$(mktemp -d)"; trap 'rm -rf "$B"' EXIT; fi
B="$(cd "$B" && pwd)"

# The Python 3.10 venv with paddlelite (exit 75 passes through when there is no Python 3.10).
set +e; VENV="$(bash "$HERE/build_lite.sh" --env-only)"; rc=$?; set -e
[ $rc -eq 0 ] || exit $rc
LITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/paddlelite"
PYLIB="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')"
[ -f "$LITE/lite.so" ] || { echo "error: no $LITE/lite.so" >&2; exit 1; }
[ -f "$PYLIB/libpython3.10.so" ] || { echo "error: no libpython3.10.so in $PYLIB (a shared Python 3.10 is needed)" >&2; exit 1; }

echo "== arm64: cross-compiling fom_core, fom_demo and the JNI bridge to object files"
if ! command -v aarch64-linux-gnu-g++ >/dev/null; then
    echo "error: aarch64-linux-gnu-g++ not found: apt-get install g++-aarch64-linux-gnu" >&2; exit 1
fi
command -v javac >/dev/null || { echo "error: javac not found (a JDK is needed for the JNI bridge)" >&2; exit 1; }
JDK="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
JNI_FLAGS=(-I"$JDK/include" -I"$JDK/include/linux")
mkdir -p "$B/arm64"
for src in fom_core fom_demo jni/fom_jni; do
    obj="$B/arm64/$(basename "$src").o"
    aarch64-linux-gnu-g++ "${CXXFLAGS[@]}" "${JNI_FLAGS[@]}" -fPIC -c "$DEMO/$src.cc" -o "$obj"
    file "$obj" | grep -q "ARM aarch64" || { echo "error: $obj is not arm64" >&2; exit 1; }
done

echo "== x86: building fom_demo against $LITE/lite.so"
# lite.so's SONAME is liblite_pybind.so; it leaves Python's C API symbols to libpython3.10.
ln -sf "$LITE/lite.so" "$B/liblite_pybind.so"
g++ "${CXXFLAGS[@]}" -o "$B/fom_demo" "$DEMO/fom_demo.cc" "$DEMO/fom_core.cc" \
    -L"$B" -llite_pybind -Wl,-rpath-link,"$LITE/libs" -L"$PYLIB" -lpython3.10 -Wl,-rpath,"$PYLIB"

echo "== x86: building libfom_jni.so and the Java classes"
g++ "${CXXFLAGS[@]}" "${JNI_FLAGS[@]}" -fPIC -shared -o "$B/libfom_jni.so" "$DEMO/jni/fom_jni.cc" "$DEMO/fom_core.cc" \
    -L"$B" -llite_pybind -Wl,-rpath-link,"$LITE/libs" -L"$PYLIB" -lpython3.10 -Wl,-rpath,"$PYLIB"
rm -rf "$B/classes"
javac --release 8 -Xlint:-options -d "$B/classes" "$DEMO"/jni/java/ppfom/lite/*.java

echo "== x86 .nb files of the demo model"
bash "$HERE/build_lite.sh" "$ROOT/ppfom/assets/synthetic64.yaml" "$ROOT/ppfom/assets/synthetic64.pdparams" \
    "$B/models" 64 x86 >/dev/null
"$PYTHON" "$HERE/native_check.py" inputs "$B/in" 2>/dev/null

echo "== running fom_demo"
rm -f "$B/out_demo.rgb"
GLOG_v=0 LD_LIBRARY_PATH="$B:$LITE/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$B/fom_demo" "$B/models/x86" 64 "$B/in/source.rgb" "$B/in/driving.rgb" "$B/out_demo.rgb" 2 2>"$B/demo.log" \
    || { tail -20 "$B/demo.log" >&2; echo "error: fom_demo failed" >&2; exit 1; }

echo "== running the JNI bridge from Java"
rm -f "$B/out_jni.rgb"
GLOG_v=0 LD_LIBRARY_PATH="$B:$LITE/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    java -Djava.library.path="$B" -cp "$B/classes" ppfom.lite.AnimateRawFrames \
    "$B/models/x86" 64 "$B/in/source.rgb" "$B/in/driving.rgb" "$B/out_jni.rgb" 2>"$B/jni.log" \
    || { tail -20 "$B/jni.log" >&2; echo "error: the Java program failed" >&2; exit 1; }

# The Android app's parts that build off the phone: plain Java, JNI signatures, its CMakeLists.txt.
LITE_SO="$LITE/lite.so" bash "$ROOT/deploy/android/check_host.sh" "$B/android"

echo "== comparing with ppfom's dygraph animation"
# Its last line, `max difference N/255`, is this script's last line.
"$PYTHON" "$HERE/native_check.py" compare "$B/in" "$B/out_demo.rgb" "$B/out_jni.rgb" 2>"$B/compare.log" \
    || { tail -5 "$B/compare.log" >&2; exit 1; }
