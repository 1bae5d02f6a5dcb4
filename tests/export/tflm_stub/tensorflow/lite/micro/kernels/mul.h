/* Stub of tensorflow/lite/micro/kernels/mul.h: the generic and the int8-only registration. */
#ifndef STUB_KERNELS_MUL_H_
#define STUB_KERNELS_MUL_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
TFLMRegistration Register_MUL();
TFLMRegistration Register_MUL_INT8();
}  // namespace tflite
#endif
