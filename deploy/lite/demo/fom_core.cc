#include "fom_core.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include "paddle_api.h"

namespace fom {
namespace {

using paddle::lite_api::MobileConfig;
using paddle::lite_api::PaddlePredictor;
using paddle::lite_api::shape_t;

std::shared_ptr<PaddlePredictor> Load(const std::string& path, int threads) {
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
  } else {
    throw std::runtime_error("cannot open " + path);
  }
  MobileConfig config;
  config.set_model_from_file(path);
  config.set_threads(threads);
  config.set_power_mode(paddle::lite_api::LITE_POWER_HIGH);
  auto predictor = paddle::lite_api::CreatePaddlePredictor<MobileConfig>(config);
  if (!predictor) throw std::runtime_error("Paddle Lite could not load " + path);
  return predictor;
}

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Copies the inputs in (in order), runs, and copies every output out.
std::vector<Array> Run(PaddlePredictor* predictor, const std::vector<std::pair<const float*, shape_t>>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto tensor = predictor->GetInput(static_cast<int>(i));
    tensor->Resize(inputs[i].second);
    std::copy_n(inputs[i].first, Numel(inputs[i].second), tensor->mutable_data<float>());
  }
  predictor->Run();
  std::vector<Array> outputs;
  const size_t count = predictor->GetOutputNames().size();
  for (size_t i = 0; i < count; ++i) {
    auto tensor = predictor->GetOutput(static_cast<int>(i));
    Array out;
    out.shape = tensor->shape();
    const float* data = tensor->data<float>();
    out.data.assign(data, data + Numel(out.shape));
    outputs.push_back(std::move(out));
  }
  return outputs;
}

double Cross(const double* o, const double* a, const double* b) {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

}  // namespace

void RGBToNCHW(const uint8_t* rgb, int height, int width, float* nchw) {
  const int plane = height * width;
  for (int p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) nchw[c * plane + p] = static_cast<float>(rgb[p * 3 + c]) / 255.0f;
}

void NCHWToRGB(const float* nchw, int height, int width, uint8_t* rgb) {
  const int plane = height * width;
  for (int p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) {
      float v = nchw[c * plane + p] * 255.0f + 0.5f;
      v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
      rgb[p * 3 + c] = static_cast<uint8_t>(v);
    }
}

double HullArea(const float* points, int n) {
  // Andrew's monotone chain, then the shoelace formula over the hull.
  std::vector<std::pair<double, double>> pts(n);
  for (int i = 0; i < n; ++i) pts[i] = {points[2 * i], points[2 * i + 1]};
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  if (pts.size() < 3) return 0.0;
  std::vector<std::pair<double, double>> hull(2 * pts.size());
  size_t k = 0;
  auto cross = [](const std::pair<double, double>& o, const std::pair<double, double>& a,
                  const std::pair<double, double>& b) {
    const double p0[2] = {o.first, o.second}, p1[2] = {a.first, a.second}, p2[2] = {b.first, b.second};
    return Cross(p0, p1, p2);
  };
  for (size_t i = 0; i < pts.size(); ++i) {
    while (k >= 2 && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0) --k;
    hull[k++] = pts[i];
  }
  for (size_t i = pts.size() - 1, lower = k + 1; i > 0; --i) {
    while (k >= lower && cross(hull[k - 2], hull[k - 1], pts[i - 1]) <= 0) --k;
    hull[k++] = pts[i - 1];
  }
  hull.resize(k - 1);
  if (hull.size() < 3) return 0.0;
  double twice = 0.0;
  for (size_t i = 0; i < hull.size(); ++i) {
    const auto& a = hull[i];
    const auto& b = hull[(i + 1) % hull.size()];
    twice += a.first * b.second - b.first * a.second;
  }
  return std::fabs(twice) / 2.0;
}

Keypoints NormalizeKeypoints(const Keypoints& source, const Keypoints& driving, const Keypoints& initial,
                             float scale) {
  Keypoints out = driving;
  const size_t values = driving.value.data.size();
  for (size_t i = 0; i < values; ++i) {
    const float diff = driving.value.data[i] - initial.value.data[i];
    const float moved = diff * scale;
    out.value.data[i] = moved + source.value.data[i];
  }
  const size_t mats = driving.jacobian.data.size() / 4;
  for (size_t k = 0; k < mats; ++k) {
    const float* d = &driving.jacobian.data[4 * k];
    const float* f = &initial.jacobian.data[4 * k];
    const float* s = &source.jacobian.data[4 * k];
    // inverse of the reference frame's jacobian, as ppfom's inverse_2x2: adjugate / det
    const float det = f[0] * f[3] - f[1] * f[2];
    const float inv[4] = {f[3] / det, -f[1] / det, -f[2] / det, f[0] / det};
    const float change[4] = {d[0] * inv[0] + d[1] * inv[2], d[0] * inv[1] + d[1] * inv[3],
                             d[2] * inv[0] + d[3] * inv[2], d[2] * inv[1] + d[3] * inv[3]};
    float* j = &out.jacobian.data[4 * k];
    j[0] = change[0] * s[0] + change[1] * s[2];
    j[1] = change[0] * s[1] + change[1] * s[3];
    j[2] = change[2] * s[0] + change[3] * s[2];
    j[3] = change[2] * s[1] + change[3] * s[3];
  }
  return out;
}

Animator::Animator(const std::string& model_dir, int threads, bool relative, bool adapt_scale)
    : kp_detector_(Load(model_dir + "/kp_detector.nb", threads)),
      encoder_(Load(model_dir + "/source_encoder.nb", threads)),
      generator_(Load(model_dir + "/generator.nb", threads)),
      relative_(relative),
      adapt_scale_(adapt_scale) {}

Animator::~Animator() = default;

Keypoints Animator::Detect(const float* nchw) {
  auto outputs = Run(kp_detector_.get(), {{nchw, shape_t{1, 3, height_, width_}}});
  if (outputs.empty() || outputs.size() > 2) throw std::runtime_error("kp_detector.nb: unexpected outputs");
  Keypoints kp;
  kp.value = std::move(outputs[0]);
  if (outputs.size() == 2) kp.jacobian = std::move(outputs[1]);
  return kp;
}

void Animator::SetSource(const float* nchw, int height, int width) {
  if (height <= 0 || width <= 0) throw std::runtime_error("SetSource: empty image");
  height_ = height;
  width_ = width;
  source_kp_ = Detect(nchw);
  auto encoded = Run(encoder_.get(), {{nchw, shape_t{1, 3, height, width}}});
  if (encoded.size() != 2) throw std::runtime_error("source_encoder.nb: expected 2 outputs");
  features_ = std::move(encoded[0]);
  down_ = std::move(encoded[1]);
  has_source_ = true;
  ResetDriving();
  scale_ = 1.0f;
}

void Animator::SetSourceRGB(const uint8_t* rgb, int height, int width) {
  std::vector<float> nchw(3 * static_cast<size_t>(height) * width);
  RGBToNCHW(rgb, height, width, nchw.data());
  SetSource(nchw.data(), height, width);
}

void Animator::ResetDriving() { has_initial_ = false; }

void Animator::Animate(const float* nchw, float* out_nchw) {
  if (!has_source_) throw std::runtime_error("SetSource must be called before Animate");
  Keypoints driving = Detect(nchw);
  if (!has_initial_) {
    initial_kp_ = driving;
    has_initial_ = true;
    if (adapt_scale_ && relative_) {
      // ppfom.motion_transfer.movement_scale: 1 when either hull has no area
      const int k = static_cast<int>(source_kp_.value.data.size() / 2);
      const double source_area = HullArea(source_kp_.value.data.data(), k);
      const double driving_area = HullArea(initial_kp_.value.data.data(), k);
      scale_ = (source_area <= 0 || driving_area <= 0)
                   ? 1.0f
                   : static_cast<float>(std::sqrt(source_area) / std::sqrt(driving_area));
    }
  }
  const Keypoints moved = relative_ ? NormalizeKeypoints(source_kp_, driving, initial_kp_, scale_) : driving;
  std::vector<std::pair<const float*, shape_t>> inputs = {
      {features_.data.data(), features_.shape}, {down_.data.data(), down_.shape},
      {source_kp_.value.data.data(), source_kp_.value.shape}, {moved.value.data.data(), moved.value.shape}};
  if (!source_kp_.jacobian.data.empty()) {
    inputs.push_back({source_kp_.jacobian.data.data(), source_kp_.jacobian.shape});
    inputs.push_back({moved.jacobian.data.data(), moved.jacobian.shape});
  }
  auto outputs = Run(generator_.get(), inputs);
  const size_t expected = 3 * static_cast<size_t>(height_) * width_;
  if (outputs.empty() || outputs[0].data.size() != expected)
    throw std::runtime_error("generator.nb: unexpected output size");
  std::copy(outputs[0].data.begin(), outputs[0].data.end(), out_nchw);
}

void Animator::AnimateRGB(const uint8_t* rgb, uint8_t* out_rgb) {
  const size_t n = 3 * static_cast<size_t>(height_) * width_;
  std::vector<float> in(n), out(n);
  RGBToNCHW(rgb, height_, width_, in.data());
  Animate(in.data(), out.data());
  NCHWToRGB(out.data(), height_, width_, out_rgb);
}

}  // namespace fom
