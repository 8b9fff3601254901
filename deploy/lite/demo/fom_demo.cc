// First Order Motion with Paddle Lite, command line: one photo + driving frames -> animated frames.
//
// Usage: fom_demo <model_dir> <size> <source.rgb> <driving.rgb> <out.rgb> [threads=4]
//
// Frames are raw RGB, uint8 size x size x 3, concatenated: no image library is needed, and ffmpeg
// converts to and from any video or image format, e.g.
//   ffmpeg -i face.jpg -vf scale=256:256 -f rawvideo -pix_fmt rgb24 face.rgb
//   ffmpeg -i drive.mp4 -vf scale=256:256 -f rawvideo -pix_fmt rgb24 drive.rgb
//   ffmpeg -f rawvideo -pix_fmt rgb24 -s 256x256 -r 25 -i out.rgb out.mp4
// The work itself (three .nb models, relative motion, adapt scale) is in fom_core.
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "fom_core.h"

namespace {

std::vector<uint8_t> ReadFile(const char* path) {
  std::vector<uint8_t> bytes;
  FILE* f = std::fopen(path, "rb");
  if (!f) return bytes;
  uint8_t buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
  std::fclose(f);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s <model_dir> <size> <source.rgb> <driving.rgb> <out.rgb> [threads]\n", argv[0]);
    return 2;
  }
  const int size = std::stoi(argv[2]);
  const int threads = argc > 6 ? std::stoi(argv[6]) : 4;
  const size_t frame_bytes = 3 * static_cast<size_t>(size) * size;
  const std::vector<uint8_t> source = ReadFile(argv[3]);
  const std::vector<uint8_t> driving = ReadFile(argv[4]);
  if (source.size() != frame_bytes) {
    std::fprintf(stderr, "error: %s: expected %zu bytes (%dx%d RGB), got %zu\n", argv[3], frame_bytes, size, size,
                 source.size());
    return 1;
  }
  if (driving.empty() || driving.size() % frame_bytes) {
    std::fprintf(stderr, "error: %s: expected a non-empty multiple of %zu bytes, got %zu\n", argv[4], frame_bytes,
                 driving.size());
    return 1;
  }
  FILE* out = std::fopen(argv[5], "wb");
  if (!out) {
    std::fprintf(stderr, "error: cannot write %s\n", argv[5]);
    return 1;
  }
  try {
    fom::Animator animator(argv[1], threads);
    animator.SetSourceRGB(source.data(), size, size);
    std::vector<uint8_t> frame(frame_bytes);
    const size_t count = driving.size() / frame_bytes;
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < count; ++i) {
      animator.AnimateRGB(driving.data() + i * frame_bytes, frame.data());
      if (std::fwrite(frame.data(), 1, frame_bytes, out) != frame_bytes) throw std::runtime_error("write failed");
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fclose(out);
    std::printf("%zu frames in %.2f s (%.2f frames/s), movement scale %.4f -> %s\n", count, seconds,
                count / seconds, animator.scale(), argv[5]);
  } catch (const std::exception& err) {
    std::fclose(out);
    std::fprintf(stderr, "error: %s\n", err.what());
    return 1;
  }
  return 0;
}
