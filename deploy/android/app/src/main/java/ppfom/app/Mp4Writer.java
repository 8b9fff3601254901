package ppfom.app;

import android.media.Image;
import android.media.MediaCodec;
import android.media.MediaCodecInfo;
import android.media.MediaFormat;
import android.media.MediaMuxer;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * RGB frames to an H.264 MP4 file: MediaCodec's AVC encoder fed YUV 4:2:0 through its input Images
 * (Yuv420 does the conversion), MediaMuxer writing the samples. Video only, constant frame rate.
 */
final class Mp4Writer implements AnimationJob.FrameSink, AutoCloseable {
    private static final long TIMEOUT_US = 10_000;
    private final MediaCodec codec;
    private final MediaMuxer muxer;
    private final MediaCodec.BufferInfo info = new MediaCodec.BufferInfo();
    private final int width;
    private final int height;
    private final float fps;
    private int frames;
    private int track = -1;
    private boolean finished;

    Mp4Writer(File file, int width, int height, float fps) throws IOException {
        this.width = width;
        this.height = height;
        this.fps = fps;
        MediaFormat format = MediaFormat.createVideoFormat(MediaFormat.MIMETYPE_VIDEO_AVC, width, height);
        format.setInteger(MediaFormat.KEY_COLOR_FORMAT, MediaCodecInfo.CodecCapabilities.COLOR_FormatYUV420Flexible);
        format.setInteger(MediaFormat.KEY_BIT_RATE, 4 * width * height);
        format.setInteger(MediaFormat.KEY_FRAME_RATE, Math.max(1, Math.round(fps)));
        format.setInteger(MediaFormat.KEY_I_FRAME_INTERVAL, 1);
        codec = MediaCodec.createEncoderByType(MediaFormat.MIMETYPE_VIDEO_AVC);
        codec.configure(format, null, null, MediaCodec.CONFIGURE_FLAG_ENCODE);
        codec.start();
        muxer = new MediaMuxer(file.getPath(), MediaMuxer.OutputFormat.MUXER_OUTPUT_MPEG_4);
    }

    @Override
    public void write(byte[] rgb) {
        int index = inputBuffer();
        Image image = codec.getInputImage(index);
        byte[][] planes = Yuv420.fromRgb(rgb, width, height);
        Image.Plane[] target = image.getPlanes();
        for (int p = 0; p < 3; p++) {
            int w = p == 0 ? width : width / 2;
            int h = p == 0 ? height : height / 2;
            ByteBuffer buffer = target[p].getBuffer();
            Yuv420.writePlane(planes[p], w, h, buffer, target[p].getRowStride(), target[p].getPixelStride());
        }
        codec.queueInputBuffer(index, 0, width * height * 3 / 2, timeUs(frames++), 0);
        drain(false);
    }

    /** Ends the stream and writes the file's index; the MP4 is complete after this. */
    void finish() {
        codec.queueInputBuffer(inputBuffer(), 0, 0, timeUs(frames), MediaCodec.BUFFER_FLAG_END_OF_STREAM);
        drain(true);
        finished = true;
    }

    private int inputBuffer() {
        int index;
        while ((index = codec.dequeueInputBuffer(TIMEOUT_US)) < 0) {
            drain(false);
        }
        return index;
    }

    private long timeUs(int frame) {
        return (long) (frame * 1_000_000.0 / fps);
    }

    private void drain(boolean untilEnd) {
        while (true) {
            int index = codec.dequeueOutputBuffer(info, TIMEOUT_US);
            if (index == MediaCodec.INFO_TRY_AGAIN_LATER) {
                if (!untilEnd) return;
            } else if (index == MediaCodec.INFO_OUTPUT_FORMAT_CHANGED) {
                track = muxer.addTrack(codec.getOutputFormat());
                muxer.start();
            } else if (index >= 0) {
                ByteBuffer data = codec.getOutputBuffer(index);
                boolean config = (info.flags & MediaCodec.BUFFER_FLAG_CODEC_CONFIG) != 0;
                if (!config && info.size > 0 && track >= 0 && data != null) {
                    muxer.writeSampleData(track, data, info);
                }
                codec.releaseOutputBuffer(index, false);
                if ((info.flags & MediaCodec.BUFFER_FLAG_END_OF_STREAM) != 0) return;
            }
        }
    }

    @Override
    public void close() {
        codec.stop();
        codec.release();
        if (track >= 0 && finished) muxer.stop();
        muxer.release();
    }
}
