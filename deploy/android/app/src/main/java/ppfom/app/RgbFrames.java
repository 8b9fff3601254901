package ppfom.app;

/** Conversions between Android's ARGB ints (Bitmap.getPixels) and the RGB bytes of the JNI bridge. */
public final class RgbFrames {
    private RgbFrames() {}

    /** The centred square of a width x height picture: {left, top, side}. */
    public static int[] centerSquare(int width, int height) {
        int side = Math.min(width, height);
        return new int[] {(width - side) / 2, (height - side) / 2, side};
    }

    public static byte[] argbToRgb(int[] argb) {
        byte[] rgb = new byte[argb.length * 3];
        for (int i = 0; i < argb.length; i++) {
            int p = argb[i];
            rgb[3 * i] = (byte) (p >> 16);
            rgb[3 * i + 1] = (byte) (p >> 8);
            rgb[3 * i + 2] = (byte) p;
        }
        return rgb;
    }

    public static int[] rgbToArgb(byte[] rgb) {
        int[] argb = new int[rgb.length / 3];
        for (int i = 0; i < argb.length; i++) {
            argb[i] = 0xff000000 | (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | (rgb[3 * i + 2] & 0xff);
        }
        return argb;
    }
}
