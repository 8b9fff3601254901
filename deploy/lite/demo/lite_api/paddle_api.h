// Declarations of the part of Paddle Lite's C++ API (v2.13) that fom_core uses, written for ppfom
// because no package ships Paddle Lite's headers (the x86 wheel has only lite.so). With a Paddle
// Lite release library, use the release's own include/ directory instead of this one.
//
// The classes must have the same layout as the library's: the config objects are built and
// destroyed here (inline constructors and destructors) and filled in by the library, and the
// predictor is called through its virtual table, so members and virtual functions are listed
// in the 2.13 release's order, including the ones fom_core never touches.
// deploy/lite/test_native.sh runs fom_core against the wheel's lite.so: a mismatch shows there.
#ifndef PPFOM_LITE_API_DECL_H_
#define PPFOM_LITE_API_DECL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace paddle {
namespace lite_api {

using shape_t = std::vector<int64_t>;
using lod_t = std::vector<std::vector<uint64_t>>;

enum class TargetType : int { kUnk = 0, kHost = 1, kX86 = 2, kARM = 4 };
enum class PrecisionType : int { kUnk = 0, kFloat = 1 };
enum class LiteModelType { kProtobuf = 0, kNaiveBuffer, UNK };
enum class L3CacheSetMethod { kDeviceL3Cache = 0, kDeviceL2Cache = 1, kAbsolute = 2 };

typedef enum {
  LITE_POWER_HIGH = 0,
  LITE_POWER_LOW = 1,
  LITE_POWER_FULL = 2,
  LITE_POWER_NO_BIND = 3,
  LITE_POWER_RAND_HIGH = 4,
  LITE_POWER_RAND_LOW = 5
} PowerMode;
typedef enum { CL_TUNE_NONE = 0, CL_TUNE_RAPID = 1, CL_TUNE_NORMAL = 2, CL_TUNE_EXHAUSTIVE = 3 } CLTuneMode;
typedef enum { CL_PRECISION_AUTO = 0, CL_PRECISION_FP32 = 1, CL_PRECISION_FP16 = 2 } CLPrecisionType;
typedef enum { LITE_PRECISION_NORMAL = 0, LITE_PRECISION_LOW = 1 } PrecisionMode;

// A handle on one of the predictor's tensors (a single pointer to the library's own tensor).
struct Tensor {
  explicit Tensor(void* raw);
  explicit Tensor(const void* raw);
  void Resize(const shape_t& shape);
  template <typename T>
  const T* data() const;
  template <typename T>
  T* mutable_data(TargetType type = TargetType::kHost) const;
  shape_t shape() const;

 private:
  void* raw_tensor_;
};

class PaddlePredictor {
 public:
  PaddlePredictor() = default;
  // Virtual functions in the library's vtable order.
  virtual std::unique_ptr<Tensor> GetInput(int i) = 0;
  virtual std::unique_ptr<const Tensor> GetOutput(int i) const = 0;
  virtual void Run() = 0;
  virtual std::shared_ptr<PaddlePredictor> Clone() = 0;
  virtual std::shared_ptr<PaddlePredictor> Clone(const std::vector<std::string>& var_names) = 0;
  virtual std::string GetVersion() const = 0;
  virtual std::vector<std::string> GetInputNames() = 0;
  virtual std::vector<std::string> GetOutputNames() = 0;
  virtual std::vector<std::string> GetParamNames();
  virtual bool TryShrinkMemory() = 0;
  virtual std::unique_ptr<Tensor> GetInputByName(const std::string& name) = 0;
  virtual std::unique_ptr<const Tensor> GetTensor(const std::string& name) const = 0;
  virtual std::unique_ptr<Tensor> GetMutableTensor(const std::string& name);
  virtual void SaveOptimizedModel(const std::string& model_dir, LiteModelType model_type = LiteModelType::kProtobuf,
                                  bool record_info = false);
  virtual void SetStream(TargetType, void*) {}
  virtual ~PaddlePredictor() = default;

 protected:
  int threads_{1};
  PowerMode mode_{LITE_POWER_NO_BIND};
};

class ConfigBase {
  // Members in the library's order; only their sizes and initial values matter here.
  std::string model_dir_;
  int threads_{1};
  PowerMode mode_{LITE_POWER_NO_BIND};
  CLTuneMode opencl_tune_mode_{CL_TUNE_NONE};
  std::string opencl_bin_path_;
  std::string opencl_bin_name_;
  CLPrecisionType opencl_precision_{CL_PRECISION_AUTO};
  std::string subgraph_model_cache_dir_;
  std::map<std::string, std::pair<std::vector<char>, std::vector<char>>> subgraph_model_cache_buffers_;
  std::vector<std::string> nnadapter_device_names_;
  std::string nnadapter_context_properties_;
  int (*nnadapter_context_callback_)(int, void*){nullptr};
  std::string nnadapter_model_cache_dir_;
  std::map<std::string, std::vector<std::vector<int64_t>>> nnadapter_dynamic_shape_info_;
  std::map<std::string, std::vector<char>> nnadapter_model_cache_buffers_;
  int device_id_{0};
  int x86_math_num_threads_{1};
  std::string metal_path_;
  bool metal_use_mps_{false};
  bool metal_use_aggressive_{false};
  void* metal_device_{nullptr};
  bool metal_use_memory_reuse_{false};
  std::vector<std::string> discarded_passes_;
  std::map<TargetType, std::shared_ptr<void>> target_configs_;

 public:
  explicit ConfigBase(PowerMode mode = LITE_POWER_NO_BIND, int threads = 1);
  void set_threads(int threads);
  void set_power_mode(PowerMode mode);
};

class MobileConfig : public ConfigBase {
  bool model_from_memory_{false};
  PrecisionMode precision_mode_{LITE_PRECISION_NORMAL};
  std::string lite_model_file_;
  const char* lite_model_buffer_ptr_{nullptr};
  size_t lite_model_buffer_size_{0};
  std::string model_buffer_;
  std::string param_buffer_;

 public:
  void set_model_from_file(const std::string& path);
  void set_model_from_buffer(const char* buffer, size_t length);
};

template <typename ConfigT>
std::shared_ptr<PaddlePredictor> CreatePaddlePredictor(const ConfigT& config);

}  // namespace lite_api
}  // namespace paddle

#endif  // PPFOM_LITE_API_DECL_H_
