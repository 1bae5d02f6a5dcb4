/* Stub of tensorflow/lite/micro/kernels/fully_connected.h: the generic and the int8-only registration. */
#ifndef STUB_KERNELS_FULLY_CONNECTED_H_
#define STUB_KERNELS_FULLY_CONNECTED_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
TFLMRegistration Register_FULLY_CONNECTED();
TFLMRegistration Register_FULLY_CONNECTED_INT8();
}  // namespace tflite
#endif
