/* Stub of tensorflow/lite/micro/kernels/add.h: the generic and the int8-only registration. */
#ifndef STUB_KERNELS_ADD_H_
#define STUB_KERNELS_ADD_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
TFLMRegistration Register_ADD();
TFLMRegistration Register_ADD_INT8();
}  // namespace tflite
#endif
