/* Stub of tensorflow/lite/micro/micro_mutable_op_resolver.h: the Add* methods as shipped (the ones taking a
 * registration default to the generic kernel). */
#ifndef STUB_MICRO_MUTABLE_OP_RESOLVER_H_
#define STUB_MICRO_MUTABLE_OP_RESOLVER_H_
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/kernels/add.h"
#include "tensorflow/lite/micro/kernels/conv.h"
#include "tensorflow/lite/micro/kernels/depthwise_conv.h"
#include "tensorflow/lite/micro/kernels/fully_connected.h"
#include "tensorflow/lite/micro/kernels/mul.h"
#include "tensorflow/lite/micro/kernels/pooling.h"
#include "tensorflow/lite/micro/kernels/softmax.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
namespace tflite {
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  static_assert(tOpCount > 0, "an empty resolver");
  TfLiteStatus AddAdd(const TFLMRegistration& registration = Register_ADD());
  TfLiteStatus AddAveragePool2D(const TFLMRegistration& registration = Register_AVERAGE_POOL_2D());
  TfLiteStatus AddConv2D(const TFLMRegistration& registration = Register_CONV_2D());
  TfLiteStatus AddDepthwiseConv2D(const TFLMRegistration& registration = Register_DEPTHWISE_CONV_2D());
  TfLiteStatus AddFullyConnected(const TFLMRegistration& registration = Register_FULLY_CONNECTED());
  TfLiteStatus AddMaxPool2D(const TFLMRegistration& registration = Register_MAX_POOL_2D());
  TfLiteStatus AddMul(const TFLMRegistration& registration = Register_MUL());
  TfLiteStatus AddSoftmax(const TFLMRegistration& registration = Register_SOFTMAX());
  TfLiteStatus AddConcatenation();
  TfLiteStatus AddDequantize();
  TfLiteStatus AddExpandDims();
  TfLiteStatus AddHardSwish();
  TfLiteStatus AddLeakyRelu();
  TfLiteStatus AddLogistic();
  TfLiteStatus AddMaximum();
  TfLiteStatus AddMean();
  TfLiteStatus AddMinimum();
  TfLiteStatus AddPack();
  TfLiteStatus AddPad();
  TfLiteStatus AddPadV2();
  TfLiteStatus AddPrelu();
  TfLiteStatus AddQuantize();
  TfLiteStatus AddReduceMax();
  TfLiteStatus AddRelu();
  TfLiteStatus AddRelu6();
  TfLiteStatus AddReshape();
  TfLiteStatus AddResizeBilinear();
  TfLiteStatus AddResizeNearestNeighbor();
  TfLiteStatus AddShape();
  TfLiteStatus AddSplit();
  TfLiteStatus AddSqueeze();
  TfLiteStatus AddStridedSlice();
  TfLiteStatus AddSub();
  TfLiteStatus AddSum();
  TfLiteStatus AddTanh();
  TfLiteStatus AddTranspose();
  unsigned int GetRegistrationLength() const;
};
}  // namespace tflite
#endif
