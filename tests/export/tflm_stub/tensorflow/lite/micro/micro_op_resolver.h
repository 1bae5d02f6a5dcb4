/* Stub of tensorflow/lite/micro/micro_op_resolver.h. */
#ifndef STUB_MICRO_OP_RESOLVER_H_
#define STUB_MICRO_OP_RESOLVER_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
class MicroOpResolver {
 public:
  virtual ~MicroOpResolver() {}
};
}  // namespace tflite
#endif
