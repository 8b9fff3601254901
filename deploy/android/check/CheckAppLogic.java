package ppfom.app;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/** Off-phone checks of the app's plain-Java classes (deploy/android/check_host.sh runs it). */
public final class CheckAppLogic {
    private static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        // Frame loop: order, progress, and cancelling between frames.
        final List<Integer> written = new ArrayList<>();
        final List<Integer> percents = new ArrayList<>();
        final AtomicBoolean cancel = new AtomicBoolean(false);
        AnimationJob.FrameSource five = new AnimationJob.FrameSource() {
            public int count() { return 5; }
            public byte[] frame(int index) { return new byte[] {(byte) index}; }
        };
        AnimationJob.FrameAnimator plusTen = rgb -> new byte[] {(byte) (rgb[0] + 10)};
        int n = AnimationJob.run(five, plusTen, rgb -> written.add((int) rgb[0]),
                                 (done, total) -> percents.add(AnimationJob.percent(done, total)), cancel);
        check(n == 5 && written.equals(Arrays.asList(10, 11, 12, 13, 14)), "frames in order");
        check(percents.equals(Arrays.asList(0, 20, 40, 60, 80, 100)), "progress " + percents);
        written.clear();
        n = AnimationJob.run(five, plusTen, rgb -> { written.add((int) rgb[0]); if (written.size() == 2) cancel.set(true); },
                             (done, total) -> { }, cancel);
        check(n == 2 && written.size() == 2, "cancel stops between frames");
        check(AnimationJob.percent(0, 0) == 0, "empty video");

        // RGB <-> ARGB and the centred square.
        byte[] rgb = {(byte) 255, 0, 7, 1, 2, (byte) 200};
        int[] argb = RgbFrames.rgbToArgb(rgb);
        check(argb[0] == 0xffff0007 && argb[1] == 0xff0102c8, "rgbToArgb");
        check(Arrays.equals(RgbFrames.argbToRgb(argb), rgb), "argbToRgb");
        check(Arrays.equals(RgbFrames.centerSquare(640, 480), new int[] {80, 0, 480}), "landscape square");
        check(Arrays.equals(RgbFrames.centerSquare(480, 640), new int[] {0, 80, 480}), "portrait square");

        // YUV: black, white and grey, and strided planes.
        byte[] frame = new byte[4 * 2 * 3];
        Arrays.fill(frame, 0, 12, (byte) 255);  // row 0 white, row 1 black
        byte[][] yuv = Yuv420.fromRgb(frame, 4, 2);
        check((yuv[0][0] & 0xff) == 235 && (yuv[0][4] & 0xff) == 16, "Y of white and black");
        check((yuv[1][0] & 0xff) == 128 && (yuv[2][0] & 0xff) == 128, "U, V of grey mixes");
        ByteBuffer interleaved = ByteBuffer.allocate(2 * 6);
        Yuv420.writePlane(new byte[] {1, 2, 3, 4}, 2, 2, interleaved, 6, 2);
        check(interleaved.get(0) == 1 && interleaved.get(2) == 2 && interleaved.get(6) == 3 && interleaved.get(8) == 4,
              "pixel stride 2");
        ByteBuffer padded = ByteBuffer.allocate(2 * 4);
        Yuv420.writePlane(new byte[] {1, 2, 3, 4}, 2, 2, padded, 4, 1);
        check(padded.get(0) == 1 && padded.get(1) == 2 && padded.get(4) == 3 && padded.get(5) == 4, "row stride 4");
        System.out.println("app logic: frame loop, progress, cancel, RGB/ARGB, YUV planes ok");
    }
}
