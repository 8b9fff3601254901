package ppfom.app;

import android.content.Context;
import android.graphics.Bitmap;
import android.media.MediaMetadataRetriever;
import android.net.Uri;

import java.io.IOException;

/**
 * A video's frames as size x size RGB bytes (centre square, scaled), decoded one at a time with
 * MediaMetadataRetriever.getFrameAtIndex. Simple, not fast: each call seeks and decodes; a MediaCodec
 * decoder to an ImageReader would stream the frames instead.
 */
final class VideoFrames implements AnimationJob.FrameSource, AutoCloseable {
    private final MediaMetadataRetriever retriever = new MediaMetadataRetriever();
    private final int size;
    private final int count;
    private final float fps;

    VideoFrames(Context context, Uri video, int size) {
        this.size = size;
        retriever.setDataSource(context, video);
        count = parse(retriever.extractMetadata(MediaMetadataRetriever.METADATA_KEY_VIDEO_FRAME_COUNT));
        int millis = parse(retriever.extractMetadata(MediaMetadataRetriever.METADATA_KEY_DURATION));
        fps = count > 0 && millis > 0 ? count * 1000f / millis : 25f;
    }

    @Override
    public int count() {
        return count;
    }

    float fps() {
        return fps;
    }

    @Override
    public byte[] frame(int index) {
        Bitmap frame = retriever.getFrameAtIndex(index);
        if (frame == null) throw new IllegalStateException("cannot decode frame " + index);
        return squareRgb(frame, size);
    }

    /** The centred square of a picture, scaled to size x size, as RGB bytes. */
    static byte[] squareRgb(Bitmap picture, int size) {
        int[] square = RgbFrames.centerSquare(picture.getWidth(), picture.getHeight());
        Bitmap cropped = Bitmap.createBitmap(picture, square[0], square[1], square[2], square[2]);
        Bitmap scaled = Bitmap.createScaledBitmap(cropped, size, size, true);
        int[] argb = new int[size * size];
        scaled.getPixels(argb, 0, size, 0, 0, size, size);
        return RgbFrames.argbToRgb(argb);
    }

    @Override
    public void close() throws IOException {
        retriever.release();
    }

    private static int parse(String value) {
        try {
            return value == null ? 0 : Integer.parseInt(value);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
