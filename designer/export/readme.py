"""The bundle's README.md: what each file is, and step by step how to run the model on an STM32 board with
X-CUBE-AI or with TensorFlow Lite Micro + CMSIS-NN, without reading report.md."""

from __future__ import annotations

from collections.abc import Sequence

from designer.boards import Board
from designer.export.csource import ModelConfig, c_file_names
from designer.export.firmware import OpRegistration, resolver_call
from designer.export.report import TFLM_FLASH_KB, TFLM_FLASH_MEASURED_ON, UNTRAINED_WARNING


def bundle_readme(c_name: str, board: Board, compression: str, *, ops: Sequence[tuple[str, OpRegistration]],
                  config: ModelConfig, model_bytes: int, untrained: bool) -> str:
    """README.md of the bundle."""
    p = c_name.upper()
    f = c_file_names(c_name)
    warn = f"\n> **WARNING:** {UNTRAINED_WARNING}\n" if untrained else ""
    op_lines = "\n".join(f"   - {name}: `resolver.{resolver_call(reg)}`" for name, reg in ops)
    kb = TFLM_FLASH_KB
    return f"""# {c_name}: exported by cnn-designer
{warn}
| file | what it is |
|---|---|
| model.keras, model.h5 | the Keras model (float32); X-CUBE-AI imports the .h5 |
| model_float32.tflite | TensorFlow Lite, float32 |
| model_int8.tflite | TensorFlow Lite, full-integer int8 (int8 input and output) |
| {f['data.h']} / {f['data.c']} | model_int8.tflite as `{c_name}_model_data[]` (16-byte aligned) and its length |
| {f['config.h']} | input shape, quantization, class names, the tensor arena per kernel set |
| {f['ops.h']} | `{c_name}_op_resolver` and `{c_name}_register_ops()`: exactly the model's {len(ops)} TFLM ops |
| {f['test_vectors.h']} | a few int8 inputs and the output bytes tflite-micro gives for them |
| {f['main_example.cc']} | set-up, `{c_name}_classify()` and a self-test that prints PASS/FAIL |
| stedgeai.sh | `stedgeai analyze` / `generate` for {board.series} ({board.name}) |
| report.md / report.json | footprint estimated vs measured, board fit, accuracy (tflite-micro and LiteRT) |

Every C file and symbol starts with `{c_name}`, so several bundles live in one firmware.

## STM32CubeIDE with X-CUBE-AI

1. Open the project's `.ioc` (STM32CubeMX inside CubeIDE). *Middleware and Software Packs → Select
   Components*: tick *STMicroelectronics.X-CUBE-AI → Core*; for a first test also *Device Application →
   Validation* (or *SystemPerformance*). Enable a UART for the application's output.
2. In *X-CUBE-AI*, *Add network*: name it `{c_name}`; choose *Keras* and `model.h5` (float32 weights, set
   *Compression* to `{compression}`) or *TFLite* and `model_int8.tflite` (already quantized, no compression).
3. Press *Analyze*: the flash and RAM it reports are X-CUBE-AI's figures (report.md sets ours beside them);
   they must fit {board.name}. `./stedgeai.sh analyze` gives the same from a shell.
4. Generate the code (*Project → Generate Code*): X-CUBE-AI adds `{c_name}.c`, `{c_name}_data.c` and its runtime
   library. Call `ai_{c_name}_create_and_init()`, then `ai_{c_name}_run()` per input. X-CUBE-AI uses its own
   runtime: the `{c_name}_*.h/.c/.cc` files of this bundle are not needed on this path.

## STM32CubeIDE with TensorFlow Lite Micro + CMSIS-NN (a plain library)

1. Get TFLite Micro sources for Cortex-M with CMSIS-NN kernels: in a tflite-micro checkout run
   `python3 tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py --makefile_options
   "TARGET=cortex_m_generic TARGET_ARCH=cortex-m4+fp OPTIMIZED_KERNEL_DIR=cmsis_nn" tflm_tree` (use your
   core: cortex-m7+fp, cortex-m33…). It copies `tensorflow/`, `third_party/` and the CMSIS-NN sources.
2. Copy `tflm_tree` into the CubeIDE project (e.g. `Middlewares/tflm`), right-click it → *Properties → C/C++
   Build → Settings*: untick *Exclude resource from build*. Add include paths (*C/C++ General → Paths and
   Symbols → Includes*, for GNU C and GNU C++): `tflm_tree`, `tflm_tree/third_party/flatbuffers/include`,
   `tflm_tree/third_party/gemmlowp`, `tflm_tree/third_party/ruy`, `tflm_tree/third_party/cmsis_nn`,
   `tflm_tree/third_party/cmsis_nn/Include`, and CMSIS Core's `Include`.
3. Symbols (*Paths and Symbols → Symbols*, C and C++): `TF_LITE_STATIC_MEMORY` and `CMSIS_NN`. Leave
   `TF_LITE_STRIP_ERROR_STRINGS` undefined until the self-test passes: it turns `MicroPrintf` (TFLM's
   messages, and this example's) into nothing; the functions' return values still say what failed.
   The project must compile C++17 (*MCU G++ Compiler → General → Language standard*: C++17) with
   `-fno-rtti -fno-exceptions`.
4. Copy `{f['data.c']}`, `{f['data.h']}`, `{f['config.h']}`, `{f['ops.h']}`, `{f['test_vectors.h']}` and
   `{f['main_example.cc']}` into `Core/Src` / `Core/Inc` (or a folder of your own on the include path).
   Keep `{c_name}_model_data` in flash (it is `const`).
5. Retarget TFLM's `DebugLog()` (in `tflm_tree/tensorflow/lite/micro/cortex_m_generic/debug_log.cc`, or
   `RegisterDebugLogCallback()`) to your UART, so `MicroPrintf` output shows.
6. From `main()` (C is fine: the functions have C linkage), after the HAL init:
   ```c
   int {c_name}_setup(void);
   int {c_name}_classify(const float* x, float* scores);
   int {c_name}_self_test(void);
   ...
   if ({c_name}_setup() != 0) Error_Handler();
   {c_name}_self_test();   /* prints "self-test PASS" when the build computes what tflite-micro did */
   ```
   Then per input: fill `x` with {p}_INPUT_SIZE values preprocessed as the model expects
   ({config.preprocessing}, NHWC) and call `{c_name}_classify(x, scores)`: it quantizes with
   `{p}_INPUT_SCALE`/`{p}_INPUT_ZERO_POINT`, runs the model, dequantizes the {p}_NUM_CLASSES scores and returns
   the top class (`{c_name}_class_names[]`).
7. The ops the model needs, registered by `{c_name}_register_ops()` (the resolver holds exactly these
   {len(ops)}; registering other ops, or fewer, makes `AllocateTensors()` fail):
{op_lines}
8. RAM: the arena is `{p}_TENSOR_ARENA_SIZE` = {config.arena_bytes:,} B for CMSIS-NN kernels. Without CMSIS-NN
   (reference kernels), define `{p}_USE_REFERENCE_KERNELS`: {config.arena_reference_config_bytes:,} B.
   Both are the figure derived for a 32-bit Cortex-M + a {config.arena_margin_bytes:,} B margin (the 64-bit
   host measured {config.arena_host_bytes:,} B); the set-up prints `arena_used_bytes` from the board.
   Flash: the model is {model_bytes:,} B (`{p}_MODEL_DATA_LEN`); TFLM's code adds about
   {kb['int8_registrations']} KB with these `Register_*_INT8()` registrations
   ({kb['generic_registrations']} KB with plain `AddXxx()`, {kb['reference_kernels']} KB with reference kernels;
   {TFLM_FLASH_MEASURED_ON}).

On a host, `g++ -std=c++17 -D{p}_EXAMPLE_MAIN` with TFLM built for the host gives a `main()` that runs the
self-test.
"""
