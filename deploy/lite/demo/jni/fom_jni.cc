// JNI bridge over fom_core for an Android app (or any JVM): the native methods of
// java/ppfom/lite/FomAnimator.java. Frames are byte[] RGB, height x width x 3; a handle (jlong) owns
// one fom::Animator. C++ exceptions become java.lang.IllegalStateException.
#include <jni.h>

#include <exception>
#include <new>
#include <string>

#include "fom_core.h"

namespace {

void Throw(JNIEnv* env, const char* message) {
  jclass cls = env->FindClass("java/lang/IllegalStateException");
  if (cls != nullptr) env->ThrowNew(cls, message);
}

fom::Animator* FromHandle(JNIEnv* env, jlong handle) {
  if (handle == 0) Throw(env, "FomAnimator is closed");
  return reinterpret_cast<fom::Animator*>(handle);
}

// The bytes of a Java array, released (without copying back) when this goes out of scope.
class Bytes {
 public:
  Bytes(JNIEnv* env, jbyteArray array) : env_(env), array_(array) {
    size_ = array ? env->GetArrayLength(array) : 0;
    data_ = array ? env->GetByteArrayElements(array, nullptr) : nullptr;
  }
  ~Bytes() {
    if (data_) env_->ReleaseByteArrayElements(array_, data_, JNI_ABORT);
  }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(data_); }
  jsize size() const { return size_; }

 private:
  JNIEnv* env_;
  jbyteArray array_;
  jbyte* data_;
  jsize size_;
};

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_ppfom_lite_FomAnimator_nativeCreate(JNIEnv* env, jclass, jstring model_dir,
                                                                 jint threads, jboolean relative,
                                                                 jboolean adapt_scale) {
  const char* dir = env->GetStringUTFChars(model_dir, nullptr);
  if (dir == nullptr) return 0;
  const std::string path(dir);
  env->ReleaseStringUTFChars(model_dir, dir);
  try {
    return reinterpret_cast<jlong>(new fom::Animator(path, threads, relative == JNI_TRUE, adapt_scale == JNI_TRUE));
  } catch (const std::exception& err) {
    Throw(env, err.what());
    return 0;
  }
}

JNIEXPORT void JNICALL Java_ppfom_lite_FomAnimator_nativeSetSource(JNIEnv* env, jclass, jlong handle,
                                                                   jbyteArray rgb, jint height, jint width) {
  fom::Animator* animator = FromHandle(env, handle);
  if (animator == nullptr) return;
  Bytes source(env, rgb);
  if (height <= 0 || width <= 0 || source.size() != 3 * height * width) {
    Throw(env, "setSource: the array is not height * width * 3 bytes");
    return;
  }
  try {
    animator->SetSourceRGB(source.data(), height, width);
  } catch (const std::exception& err) {
    Throw(env, err.what());
  }
}

JNIEXPORT void JNICALL Java_ppfom_lite_FomAnimator_nativeAnimate(JNIEnv* env, jclass, jlong handle,
                                                                 jbyteArray rgb, jbyteArray out) {
  fom::Animator* animator = FromHandle(env, handle);
  if (animator == nullptr) return;
  const jsize expected = 3 * animator->height() * animator->width();
  if (expected == 0) {
    Throw(env, "animate: setSource was not called");
    return;
  }
  Bytes frame(env, rgb);
  if (frame.size() != expected || out == nullptr || env->GetArrayLength(out) != expected) {
    Throw(env, "animate: frames must be the source's height * width * 3 bytes");
    return;
  }
  std::string result(expected, '\0');
  try {
    animator->AnimateRGB(frame.data(), reinterpret_cast<uint8_t*>(&result[0]));
  } catch (const std::exception& err) {
    Throw(env, err.what());
    return;
  }
  env->SetByteArrayRegion(out, 0, expected, reinterpret_cast<const jbyte*>(result.data()));
}

JNIEXPORT void JNICALL Java_ppfom_lite_FomAnimator_nativeResetDriving(JNIEnv* env, jclass, jlong handle) {
  if (fom::Animator* animator = FromHandle(env, handle)) animator->ResetDriving();
}

JNIEXPORT jfloat JNICALL Java_ppfom_lite_FomAnimator_nativeMovementScale(JNIEnv* env, jclass, jlong handle) {
  fom::Animator* animator = FromHandle(env, handle);
  return animator ? animator->scale() : 1.0f;
}

JNIEXPORT void JNICALL Java_ppfom_lite_FomAnimator_nativeRelease(JNIEnv*, jclass, jlong handle) {
  delete reinterpret_cast<fom::Animator*>(handle);
}

}  // extern "C"
