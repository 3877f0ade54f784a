// Precompiled header for every translation unit that uses libtorch (~14 s -> ~7 s each).
// Headers outside src/layers, src/models, ... must not include torch.
#pragma once

#include <torch/torch.h>
