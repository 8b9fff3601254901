package ppfom.lite;

/**
 * First Order Motion with Paddle Lite, from Java: the three .nb models of deploy/lite/build_lite.sh
 * in a directory, a source photo set once, then one call per driving frame (relative motion and adapt
 * scale, as ppfom does). Frames are RGB bytes, height x width x 3, at the models' size. Native code:
 * libfom_jni.so (deploy/lite/demo/jni/fom_jni.cc over fom_core).
 */
public final class FomAnimator implements AutoCloseable {
    static {
        System.loadLibrary("fom_jni");
    }

    private long handle;
    private int frameBytes;

    public FomAnimator(String modelDir, int threads, boolean relative, boolean adaptScale) {
        handle = nativeCreate(modelDir, threads, relative, adaptScale);
    }

    /** Sets the photo to animate; the next frame becomes the reference of relative motion. */
    public void setSource(byte[] rgb, int height, int width) {
        nativeSetSource(handle, rgb, height, width);
        frameBytes = rgb.length;
    }

    /** One driving frame (the source's size) to the animated frame. */
    public byte[] animate(byte[] rgb) {
        byte[] out = new byte[frameBytes];
        nativeAnimate(handle, rgb, out);
        return out;
    }

    /** The next frame becomes the reference of relative motion (e.g. a new driving video). */
    public void resetDriving() {
        nativeResetDriving(handle);
    }

    /** sqrt of the keypoint hulls' area ratio (adapt scale), once the reference frame is set. */
    public float movementScale() {
        return nativeMovementScale(handle);
    }

    @Override
    public void close() {
        nativeRelease(handle);
        handle = 0;
    }

    private static native long nativeCreate(String modelDir, int threads, boolean relative, boolean adaptScale);
    private static native void nativeSetSource(long handle, byte[] rgb, int height, int width);
    private static native void nativeAnimate(long handle, byte[] rgb, byte[] out);
    private static native void nativeResetDriving(long handle);
    private static native float nativeMovementScale(long handle);
    private static native void nativeRelease(long handle);
}
