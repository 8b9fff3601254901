// First Order Motion on Android with Paddle Lite: one photo + a driving video -> animated video.
//
// Loads the three .nb files written by deploy/lite/build_lite.sh (target arm):
//   kp_detector.nb     image (1,3,S,S)                     -> value (1,K,2), jacobian (1,K,2,2)
//   source_encoder.nb  source (1,3,S,S)                    -> features, source_down
//   generator.nb       features, source_down, kp_source value, kp_driving value,
//                      kp_source jacobian, kp_driving jacobian -> prediction (1,3,S,S)
// The source's keypoints and encoding are computed once; each frame then costs one keypoint
// pass and the per-frame generator. Relative motion (PaddleGAN's --relative) is applied here:
//   value = kp_driving - kp_driving_first + kp_source
//   jacobian = J_driving * inverse(J_driving_first) * J_source
//
// Usage: fom_demo <model_dir> <source.jpg> <driving.mp4> <out.mp4> [threads=4] [size=256]
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "paddle_api.h"

using paddle::lite_api::CreatePaddlePredictor;
using paddle::lite_api::MobileConfig;
using paddle::lite_api::PaddlePredictor;
using paddle::lite_api::PowerMode;
using paddle::lite_api::shape_t;

namespace {

using Tensor = std::vector<float>;

struct Output {
  Tensor data;
  shape_t shape;
};

std::shared_ptr<PaddlePredictor> Load(const std::string& path, int threads) {
  MobileConfig config;
  config.set_model_from_file(path);
  config.set_threads(threads);
  config.set_power_mode(PowerMode::LITE_POWER_HIGH);
  return CreatePaddlePredictor<MobileConfig>(config);
}

int64_t Numel(const shape_t& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// Runs a predictor on float inputs (copied in, in order) and returns every output with its shape.
std::vector<Output> Run(PaddlePredictor* predictor, const std::vector<std::pair<const Tensor*, shape_t>>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto in = predictor->GetInput(static_cast<int>(i));
    in->Resize(inputs[i].second);
    std::copy(inputs[i].first->begin(), inputs[i].first->end(), in->mutable_data<float>());
  }
  predictor->Run();
  std::vector<Output> outputs;
  for (size_t i = 0; i < predictor->GetOutputNames().size(); ++i) {
    auto out = predictor->GetOutput(static_cast<int>(i));
    const float* data = out->data<float>();
    outputs.push_back({Tensor(data, data + Numel(out->shape())), out->shape()});
  }
  return outputs;
}

// BGR uint8 frame -> RGB NCHW float in [0, 1] at size x size.
Tensor ToNCHW(const cv::Mat& bgr, int size) {
  cv::Mat rgb, resized;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  cv::resize(rgb, resized, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  Tensor t(3 * size * size);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) t[(c * size + y) * size + x] = resized.at<cv::Vec3b>(y, x)[c] / 255.0f;
  return t;
}

cv::Mat ToBGR(const Tensor& t, int size) {
  cv::Mat bgr(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        float v = t[(c * size + y) * size + x] * 255.0f + 0.5f;
        bgr.at<cv::Vec3b>(y, x)[2 - c] = static_cast<uchar>(v < 0 ? 0 : (v > 255 ? 255 : v));
      }
  return bgr;
}

using Mat2 = std::array<float, 4>;  // row-major 2x2

Mat2 Mul(const Mat2& a, const Mat2& b) {
  return {a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]};
}

Mat2 Inverse(const Mat2& m) {
  float det = m[0] * m[3] - m[1] * m[2];
  return {m[3] / det, -m[1] / det, -m[2] / det, m[0] / det};
}

// Relative motion: the driving video's change since its first frame, applied to the source.
void Normalize(const std::vector<Output>& src, const std::vector<Output>& drv, const std::vector<Output>& first,
               int num_kp, Tensor* value, Tensor* jacobian) {
  value->resize(num_kp * 2);
  jacobian->resize(num_kp * 4);
  for (int k = 0; k < num_kp; ++k) {
    for (int d = 0; d < 2; ++d) (*value)[k * 2 + d] = drv[0].data[k * 2 + d] - first[0].data[k * 2 + d] + src[0].data[k * 2 + d];
    Mat2 jd, j0, js;
    std::copy_n(&drv[1].data[k * 4], 4, jd.begin());
    std::copy_n(&first[1].data[k * 4], 4, j0.begin());
    std::copy_n(&src[1].data[k * 4], 4, js.begin());
    Mat2 j = Mul(Mul(jd, Inverse(j0)), js);
    std::copy(j.begin(), j.end(), jacobian->begin() + k * 4);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s <model_dir> <source image> <driving video> <output.mp4> [threads] [size]\n", argv[0]);
    return 1;
  }
  const std::string dir = argv[1];
  const int threads = argc > 5 ? std::stoi(argv[5]) : 4;
  const int size = argc > 6 ? std::stoi(argv[6]) : 256;
  auto kp_detector = Load(dir + "/kp_detector.nb", threads);
  auto encoder = Load(dir + "/source_encoder.nb", threads);
  auto generator = Load(dir + "/generator.nb", threads);

  cv::Mat source_bgr = cv::imread(argv[2]);
  cv::VideoCapture driving(argv[3]);
  if (source_bgr.empty() || !driving.isOpened()) {
    std::fprintf(stderr, "error: cannot read %s or %s\n", argv[2], argv[3]);
    return 1;
  }
  const shape_t image_shape{1, 3, size, size};
  Tensor source = ToNCHW(source_bgr, size);
  auto kp_source = Run(kp_detector.get(), {{&source, image_shape}});
  auto encoded = Run(encoder.get(), {{&source, image_shape}});
  const int num_kp = static_cast<int>(kp_source[0].shape[1]);
  const shape_t value_shape{1, num_kp, 2}, jac_shape{1, num_kp, 2, 2};

  double fps = driving.get(cv::CAP_PROP_FPS);
  cv::VideoWriter writer(argv[4], cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps > 0 ? fps : 25, cv::Size(size, size));
  std::vector<Output> first;
  cv::Mat frame;
  int count = 0;
  auto start = std::chrono::steady_clock::now();
  while (driving.read(frame)) {
    Tensor image = ToNCHW(frame, size);
    auto kp_driving = Run(kp_detector.get(), {{&image, image_shape}});
    if (first.empty()) first = kp_driving;
    Tensor value, jacobian;
    Normalize(kp_source, kp_driving, first, num_kp, &value, &jacobian);
    auto out = Run(generator.get(), {{&encoded[0].data, encoded[0].shape}, {&encoded[1].data, encoded[1].shape},
                                     {&kp_source[0].data, value_shape}, {&value, value_shape},
                                     {&kp_source[1].data, jac_shape}, {&jacobian, jac_shape}});
    writer.write(ToBGR(out[0].data, size));
    ++count;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d frames in %.1f s (%.2f frames/s) -> %s\n", count, seconds, count / seconds, argv[4]);
  return 0;
}
