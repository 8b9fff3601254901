package ppfom.app;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.net.Uri;
import android.os.Bundle;
import android.widget.Button;
import android.widget.LinearLayout;
import android.widget.ProgressBar;
import android.widget.TextView;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

import ppfom.lite.FomAnimator;

/**
 * Pick a photo and a driving video, animate the photo on a background thread with the three Paddle
 * Lite models in assets/models (deploy/lite/build_lite.sh, arm), save the MP4 to Movies/ppfom.
 */
public final class MainActivity extends Activity {
    /** The size the .nb models were made for (build_lite.sh's SIZE). */
    private static final int MODEL_SIZE = 256;
    private static final int THREADS = 4;
    private static final String[] MODELS = {"kp_detector.nb", "source_encoder.nb", "generator.nb"};
    private static final int PICK_PHOTO = 1;
    private static final int PICK_VIDEO = 2;

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final AtomicBoolean cancelled = new AtomicBoolean(false);
    private Uri photo;
    private Uri video;
    private Button animate;
    private ProgressBar progress;
    private TextView status;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        LinearLayout layout = new LinearLayout(this);
        layout.setOrientation(LinearLayout.VERTICAL);
        layout.setPadding(32, 32, 32, 32);
        layout.addView(button("Pick a photo", v -> pick("image/*", PICK_PHOTO)));
        layout.addView(button("Pick a driving video", v -> pick("video/*", PICK_VIDEO)));
        animate = button("Animate", v -> start());
        layout.addView(animate);
        progress = new ProgressBar(this, null, android.R.attr.progressBarStyleHorizontal);
        progress.setMax(100);
        layout.addView(progress);
        status = new TextView(this);
        layout.addView(status);
        setContentView(layout);
        show("Pick a photo (a face, roughly centred) and a driving video.");
    }

    private Button button(String label, android.view.View.OnClickListener listener) {
        Button button = new Button(this);
        button.setText(label);
        button.setOnClickListener(listener);
        return button;
    }

    private void pick(String type, int request) {
        Intent intent = new Intent(Intent.ACTION_OPEN_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType(type);
        startActivityForResult(intent, request);
    }

    @Override
    protected void onActivityResult(int request, int result, Intent data) {
        super.onActivityResult(request, result, data);
        if (result != RESULT_OK || data == null || data.getData() == null) return;
        if (request == PICK_PHOTO) photo = data.getData();
        if (request == PICK_VIDEO) video = data.getData();
        show("photo: " + (photo != null ? "chosen" : "-") + ", video: " + (video != null ? "chosen" : "-"));
    }

    private void start() {
        if (photo == null || video == null) {
            show("Pick a photo and a video first.");
            return;
        }
        final Uri source = photo;
        final Uri driving = video;
        animate.setEnabled(false);
        cancelled.set(false);
        worker.execute(() -> {
            String message;
            try {
                message = run(source, driving);
            } catch (Exception e) {
                message = "failed: " + e;
            }
            final String done = message;
            runOnUiThread(() -> {
                animate.setEnabled(true);
                show(done);
            });
        });
    }

    /** The whole job, on the worker thread. */
    private String run(Uri source, Uri driving) throws Exception {
        File models = installModels();
        byte[] sourceRgb;
        try (InputStream in = getContentResolver().openInputStream(source)) {
            Bitmap bitmap = BitmapFactory.decodeStream(in);
            if (bitmap == null) throw new IOException("not a picture: " + source);
            sourceRgb = VideoFrames.squareRgb(bitmap, MODEL_SIZE);
        }
        File mp4 = new File(getCacheDir(), "ppfom.mp4");
        int frames;
        long start = System.nanoTime();
        try (FomAnimator animator = new FomAnimator(models.getPath(), THREADS, true, true);
             VideoFrames drivingFrames = new VideoFrames(this, driving, MODEL_SIZE);
             Mp4Writer writer = new Mp4Writer(mp4, MODEL_SIZE, MODEL_SIZE, drivingFrames.fps())) {
            animator.setSource(sourceRgb, MODEL_SIZE, MODEL_SIZE);
            frames = AnimationJob.run(drivingFrames, animator::animate, writer,
                                      (done, total) -> runOnUiThread(() -> {
                                          progress.setProgress(AnimationJob.percent(done, total));
                                          status.setText(done + " / " + total + " frames");
                                      }), cancelled);
            writer.finish();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Uri saved = Gallery.saveVideo(this, mp4, "ppfom_" + System.currentTimeMillis() + ".mp4");
        mp4.delete();
        return String.format(java.util.Locale.ROOT, "%d frames in %.1f s, saved to Movies/ppfom (%s)", frames, seconds,
                             saved);
    }

    /** Paddle Lite reads models from files: copy assets/models/*.nb to the app's files once. */
    private File installModels() throws IOException {
        File dir = new File(getFilesDir(), "models");
        if (!dir.isDirectory() && !dir.mkdirs()) throw new IOException("cannot create " + dir);
        for (String name : MODELS) {
            File target = new File(dir, name);
            if (target.isFile()) continue;
            File part = new File(dir, name + ".part");
            try (InputStream in = getAssets().open("models/" + name); OutputStream out = new FileOutputStream(part)) {
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; ) out.write(buffer, 0, n);
            }
            if (!part.renameTo(target)) throw new IOException("cannot write " + target);
        }
        return dir;
    }

    private void show(String text) {
        status.setText(text);
    }

    @Override
    protected void onDestroy() {
        cancelled.set(true);
        worker.shutdown();
        super.onDestroy();
    }
}
