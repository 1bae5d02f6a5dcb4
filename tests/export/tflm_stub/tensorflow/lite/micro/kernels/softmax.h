/* Stub of tensorflow/lite/micro/kernels/softmax.h: the generic and the int8-only registration. */
#ifndef STUB_KERNELS_SOFTMAX_H_
#define STUB_KERNELS_SOFTMAX_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
TFLMRegistration Register_SOFTMAX();
TFLMRegistration Register_SOFTMAX_INT8();
}  // namespace tflite
#endif
