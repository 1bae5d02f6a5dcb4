/* Stub of tensorflow/lite/micro/kernels/pooling.h. */
#ifndef STUB_KERNELS_POOLING_H_
#define STUB_KERNELS_POOLING_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
TFLMRegistration Register_AVERAGE_POOL_2D();
TFLMRegistration Register_MAX_POOL_2D();
TFLMRegistration Register_AVERAGE_POOL_2D_INT8();
TFLMRegistration Register_MAX_POOL_2D_INT8();
}  // namespace tflite
#endif
