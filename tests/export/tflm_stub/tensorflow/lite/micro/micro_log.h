/* Stub of tensorflow/lite/micro/micro_log.h (the format attribute is ours: it checks the example's formats). */
#ifndef STUB_MICRO_LOG_H_
#define STUB_MICRO_LOG_H_
void MicroPrintf(const char* format, ...) __attribute__((format(printf, 1, 2)));
#endif
