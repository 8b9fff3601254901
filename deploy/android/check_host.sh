#!/usr/bin/env bash
# What of the Android app can be checked without the Android SDK, NDK or Gradle (see README.md):
#  1. the plain-Java classes of the app (no android.*) and ppfom.lite.FomAnimator compile with javac
#     --release 8, and CheckAppLogic runs them (frame order, progress, cancelling, RGB/ARGB, YUV planes);
#  2. `javac -h` writes the C header of FomAnimator's native methods, and fom_jni.cc compiles with it
#     included, so a Java/C++ signature mismatch fails here;
#  3. with LITE_SO=<paddlelite wheel's lite.so> and cmake present: the app's CMakeLists.txt (which pulls
#     in deploy/lite/demo/CMakeLists.txt) configures and builds libfom_jni.so with the host compiler
#     against that library and this project's lite_api/paddle_api.h.
#
#   bash deploy/android/check_host.sh BUILD_DIR        # deploy/lite/test_native.sh calls it
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEMO="$HERE/../lite/demo"
B="$1"; mkdir -p "$B"; B="$(cd "$B" && pwd)"
APP="$HERE/app/src/main/java/ppfom/app"
JDK="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"

echo "== android app: plain Java classes and FomAnimator (javac --release 8)"
rm -rf "$B/app-classes" "$B/app-jni-h"
javac --release 8 -Xlint:-options -d "$B/app-classes" -h "$B/app-jni-h" \
    "$APP/AnimationJob.java" "$APP/RgbFrames.java" "$APP/Yuv420.java" \
    "$DEMO/jni/java/ppfom/lite/FomAnimator.java" "$HERE/check/CheckAppLogic.java"
java -cp "$B/app-classes" ppfom.app.CheckAppLogic

echo "== android app: fom_jni.cc against javac's header of ppfom.lite.FomAnimator"
printf '#include "ppfom_lite_FomAnimator.h"\n#include "%s"\n' "$DEMO/jni/fom_jni.cc" >"$B/app-jni-h/check.cc"
g++ -std=c++14 -fsyntax-only -Wall -Wextra -Werror -I"$B/app-jni-h" -I"$DEMO" -I"$DEMO/lite_api" \
    -I"$JDK/include" -I"$JDK/include/linux" "$B/app-jni-h/check.cc"
n_java="$(grep -c '^JNIEXPORT' "$B/app-jni-h/ppfom_lite_FomAnimator.h")"
n_cc="$(grep -c '^JNIEXPORT' "$DEMO/jni/fom_jni.cc")"
[ "$n_java" = "$n_cc" ] || { echo "error: $n_java native methods in Java, $n_cc in fom_jni.cc" >&2; exit 1; }
echo "$n_cc native methods, signatures as javac declares them"

if [ -z "${LITE_SO:-}" ] || ! command -v cmake >/dev/null; then
    echo "== android app: CMakeLists.txt not checked (needs cmake and LITE_SO)"; exit 0
fi
echo "== android app: its CMakeLists.txt on the host (fake PADDLE_LITE_DIR over $LITE_SO)"
rm -rf "$B/app-lite" "$B/app-cmake"
mkdir -p "$B/app-lite/lib"
ln -s "$DEMO/lite_api" "$B/app-lite/include"
ln -s "$LITE_SO" "$B/app-lite/lib/libpaddle_light_api_shared.so"
cmake -S "$HERE/app/src/main/cpp" -B "$B/app-cmake" -DPADDLE_LITE_DIR="$B/app-lite" -DJDK_HOME="$JDK" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B/app-cmake" -j 2 >/dev/null
[ -f "$B/app-cmake/libfom_jni.so" ] && [ ! -e "$B/app-cmake/fom_lite_demo/fom_demo" ] \
    || { echo "error: the app's CMake build did not make libfom_jni.so alone" >&2; exit 1; }
nm -D --defined-only "$B/app-cmake/libfom_jni.so" | grep -c ' T Java_ppfom_lite_FomAnimator_' \
    | xargs -I{} echo "libfom_jni.so built by the app's CMakeLists.txt, {} JNI functions exported"
