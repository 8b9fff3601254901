package ppfom.app;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The app's frame loop, free of android.* so that it compiles and is checked off the phone
 * (deploy/android/check_host.sh): every driving frame, in order, through the animator into the sink,
 * with progress after each frame and a cancel flag checked between frames.
 */
public final class AnimationJob {
    /** Driving frames, RGB bytes (size x size x 3). */
    public interface FrameSource {
        int count();

        byte[] frame(int index) throws Exception;
    }

    /** One driving frame to one animated frame (ppfom.lite.FomAnimator#animate). */
    public interface FrameAnimator {
        byte[] animate(byte[] rgb) throws Exception;
    }

    /** Where the animated frames go (the MP4 encoder in the app). */
    public interface FrameSink {
        void write(byte[] rgb) throws Exception;
    }

    public interface Progress {
        void update(int done, int total);
    }

    private AnimationJob() {}

    /** Runs the loop; returns the number of frames written (fewer than count() when cancelled). */
    public static int run(FrameSource source, FrameAnimator animator, FrameSink sink, Progress progress,
                          AtomicBoolean cancelled) throws Exception {
        int total = source.count();
        int done = 0;
        progress.update(0, total);
        while (done < total && !cancelled.get()) {
            sink.write(animator.animate(source.frame(done)));
            done++;
            progress.update(done, total);
        }
        return done;
    }

    /** Whole percent for a progress bar, 0 when there is nothing to do. */
    public static int percent(int done, int total) {
        return total <= 0 ? 0 : (int) (100L * done / total);
    }
}
