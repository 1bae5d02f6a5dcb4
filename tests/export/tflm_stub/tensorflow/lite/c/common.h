/* Stub of TFLM's tensorflow/lite/c/common.h: the types the generated example touches. */
#ifndef STUB_TFLITE_C_COMMON_H_
#define STUB_TFLITE_C_COMMON_H_
#include <stddef.h>
#include <stdint.h>

typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteUInt8 = 3, kTfLiteInt8 = 9 } TfLiteType;
typedef struct TfLiteQuantizationParams { float scale; int32_t zero_point; } TfLiteQuantizationParams;
typedef union TfLitePtrUnion { int32_t* i32; float* f; uint8_t* uint8; int8_t* int8; void* data; } TfLitePtrUnion;
typedef struct TfLiteTensor {
  TfLiteType type;
  TfLitePtrUnion data;
  void* dims;
  TfLiteQuantizationParams params;
  size_t bytes;
} TfLiteTensor;
typedef struct TFLMRegistration {
  void* (*init)(void* context, const char* buffer, size_t length);
  int builtin_code;
} TFLMRegistration;
#endif
