/* Stub of tensorflow/lite/micro/kernels/conv.h: the generic and the int8-only registration. */
#ifndef STUB_KERNELS_CONV_2D_H_
#define STUB_KERNELS_CONV_2D_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
TFLMRegistration Register_CONV_2D();
TFLMRegistration Register_CONV_2D_INT8();
}  // namespace tflite
#endif
