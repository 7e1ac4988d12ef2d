/* libslm public API: the umbrella header. Each layer's API lives in include/slm/<layer>.h. */
#ifndef SLM_H
#define SLM_H

#include "slm/core.h"
#include "slm/tensor.h"
#include "slm/gguf.h"
#include "slm/tokenizer.h"
#include "slm/model.h"
#include "slm/gen.h"
#include "slm/config.h"
#include "slm/manager.h"

#endif
