package ppfom.lite;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;

/**
 * Test program for the JNI bridge on a desktop JVM, same files as fom_demo:
 * {@code java -Djava.library.path=DIR ppfom.lite.AnimateRawFrames MODEL_DIR SIZE SOURCE.rgb DRIVING.rgb OUT.rgb}
 * (raw RGB frames, SIZE x SIZE x 3 bytes each, concatenated).
 */
public final class AnimateRawFrames {
    public static void main(String[] args) throws IOException {
        if (args.length != 5) {
            System.err.println("usage: AnimateRawFrames MODEL_DIR SIZE SOURCE.rgb DRIVING.rgb OUT.rgb");
            System.exit(2);
        }
        int size = Integer.parseInt(args[1]);
        int frameBytes = size * size * 3;
        byte[] source = Files.readAllBytes(Paths.get(args[2]));
        byte[] driving = Files.readAllBytes(Paths.get(args[3]));
        if (source.length != frameBytes || driving.length == 0 || driving.length % frameBytes != 0) {
            System.err.println("error: inputs are not whole " + size + "x" + size + " RGB frames");
            System.exit(1);
        }
        int count = driving.length / frameBytes;
        byte[] out = new byte[driving.length];
        try (FomAnimator animator = new FomAnimator(args[0], 2, true, true)) {
            animator.setSource(source, size, size);
            for (int i = 0; i < count; i++) {
                byte[] frame = Arrays.copyOfRange(driving, i * frameBytes, (i + 1) * frameBytes);
                System.arraycopy(animator.animate(frame), 0, out, i * frameBytes, frameBytes);
            }
            System.out.printf("%d frames through JNI, movement scale %.4f -> %s%n", count, animator.movementScale(),
                              args[4]);
        }
        Files.write(Paths.get(args[4]), out);
    }
}
