/* Stub of tensorflow/lite/schema/schema_generated.h: the model accessor the example uses. */
#ifndef STUB_SCHEMA_GENERATED_H_
#define STUB_SCHEMA_GENERATED_H_
#include <cstdint>
/* TFLITE_SCHEMA_VERSION is left undefined: not every TFLM tree defines it here (the example has a fallback). */
namespace tflite {
struct Model {
  uint32_t version() const;
};
const Model* GetModel(const void* buf);
}  // namespace tflite
#endif
