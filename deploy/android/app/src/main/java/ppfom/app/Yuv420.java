package ppfom.app;

import java.nio.ByteBuffer;

/**
 * RGB bytes to the YUV 4:2:0 planes an H.264 encoder takes (BT.601, limited range, chroma averaged
 * over 2x2 pixels), and a plane copy honouring the row and pixel strides of android.media.Image.
 */
public final class Yuv420 {
    private Yuv420() {}

    /** Planes {Y (w*h), U (w/2*h/2), V (w/2*h/2)} of an RGB frame; width and height must be even. */
    public static byte[][] fromRgb(byte[] rgb, int width, int height) {
        if (width % 2 != 0 || height % 2 != 0 || rgb.length != width * height * 3) {
            throw new IllegalArgumentException("need even sizes and width * height * 3 bytes");
        }
        byte[] y = new byte[width * height];
        byte[] u = new byte[width * height / 4];
        byte[] v = new byte[width * height / 4];
        for (int row = 0; row < height; row++) {
            for (int col = 0; col < width; col++) {
                int i = 3 * (row * width + col);
                int r = rgb[i] & 0xff, g = rgb[i + 1] & 0xff, b = rgb[i + 2] & 0xff;
                y[row * width + col] = (byte) clamp(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
            }
        }
        for (int row = 0; row < height / 2; row++) {
            for (int col = 0; col < width / 2; col++) {
                int r = 0, g = 0, b = 0;
                for (int dy = 0; dy < 2; dy++) {
                    for (int dx = 0; dx < 2; dx++) {
                        int i = 3 * ((2 * row + dy) * width + 2 * col + dx);
                        r += rgb[i] & 0xff;
                        g += rgb[i + 1] & 0xff;
                        b += rgb[i + 2] & 0xff;
                    }
                }
                r = (r + 2) / 4;
                g = (g + 2) / 4;
                b = (b + 2) / 4;
                u[row * width / 2 + col] = (byte) clamp(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
                v[row * width / 2 + col] = (byte) clamp(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
            }
        }
        return new byte[][] {y, u, v};
    }

    /** Copies a packed width x height plane into dst at its position, row by row, pixel by pixel. */
    public static void writePlane(byte[] plane, int width, int height, ByteBuffer dst, int rowStride, int pixelStride) {
        int base = dst.position();
        for (int row = 0; row < height; row++) {
            if (pixelStride == 1) {
                dst.position(base + row * rowStride);
                dst.put(plane, row * width, width);
            } else {
                for (int col = 0; col < width; col++) {
                    dst.put(base + row * rowStride + col * pixelStride, plane[row * width + col]);
                }
            }
        }
    }

    private static int clamp(int value) {
        return value < 0 ? 0 : Math.min(value, 255);
    }
}
