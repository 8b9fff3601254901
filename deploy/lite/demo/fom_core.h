// fom_core: First Order Motion animation with Paddle Lite, without any image or video I/O.
//
// The same work as ppfom's animators (ppfom/animator.py, ppfom/exported/animator.py), on the three
// .nb files of deploy/lite/build_lite.sh:
//   kp_detector.nb     image (1,3,H,W)          -> value (1,K,2) [, jacobian (1,K,2,2)]
//   source_encoder.nb  source (1,3,H,W)         -> features, source_down
//   generator.nb       features, source_down, source value, driving value
//                      [, source jacobian, driving jacobian] -> prediction (1,3,H,W)
// SetSource runs the keypoint detector and the encoder once; each Animate call runs the keypoint
// detector on the frame, moves the source's keypoints (relative motion, adapt scale: ppfom's
// normalize_kp and movement_scale) and runs the generator. The first frame after SetSource or
// ResetDriving is the reference of relative motion.
//
// Images are float RGB NCHW in [0, 1] (batch 1) or uint8 RGB HxWx3, at the size the models were
// made for. Errors throw std::runtime_error.
#ifndef PPFOM_FOM_CORE_H_
#define PPFOM_FOM_CORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace paddle {
namespace lite_api {
class PaddlePredictor;
}  // namespace lite_api
}  // namespace paddle

namespace fom {

// A float array with its shape.
struct Array {
  std::vector<float> data;
  std::vector<int64_t> shape;
};

// Keypoints of one image: value (1,K,2) and, when the model estimates them, jacobian (1,K,2,2).
struct Keypoints {
  Array value;
  Array jacobian;  // empty when the model has no jacobians
};

class Animator {
 public:
  // Loads <model_dir>/{kp_detector,source_encoder,generator}.nb. `threads`: Paddle Lite's threads.
  Animator(const std::string& model_dir, int threads = 1, bool relative = true, bool adapt_scale = true);
  ~Animator();
  Animator(const Animator&) = delete;
  Animator& operator=(const Animator&) = delete;

  void SetSource(const float* nchw, int height, int width);
  void SetSourceRGB(const uint8_t* rgb, int height, int width);
  // The next frame becomes the reference of relative motion.
  void ResetDriving();
  // One driving frame (same size as the source) -> the animated frame, same layout.
  void Animate(const float* nchw, float* out_nchw);
  void AnimateRGB(const uint8_t* rgb, uint8_t* out_rgb);

  int height() const { return height_; }
  int width() const { return width_; }
  // sqrt of the ratio of the keypoint hulls' areas, once the reference frame is set (else 1).
  float scale() const { return scale_; }

 private:
  Keypoints Detect(const float* nchw);

  std::shared_ptr<paddle::lite_api::PaddlePredictor> kp_detector_, encoder_, generator_;
  bool relative_, adapt_scale_;
  int height_ = 0, width_ = 0;
  bool has_source_ = false, has_initial_ = false;
  Keypoints source_kp_, initial_kp_;
  Array features_, down_;
  float scale_ = 1.0f;
};

// Pure functions, exposed for the tests and the JNI bridge.
// uint8 RGB HxWx3 -> float NCHW in [0, 1] (x / 255), and back (rounded, clipped), as ppfom.frames does.
void RGBToNCHW(const uint8_t* rgb, int height, int width, float* nchw);
void NCHWToRGB(const float* nchw, int height, int width, uint8_t* rgb);
// Area of the convex hull of n 2-D points (x0, y0, x1, y1, ...); 0 when they are collinear.
double HullArea(const float* points, int n);
// ppfom.motion_transfer.normalize_kp (relative movement and jacobian) with a given movement scale.
Keypoints NormalizeKeypoints(const Keypoints& source, const Keypoints& driving, const Keypoints& initial,
                             float scale);

}  // namespace fom

#endif  // PPFOM_FOM_CORE_H_
