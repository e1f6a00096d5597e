#pragma once
// A window definition's operator spec from its settings (checked when the configuration loaded).

#include "windows/window_operator.h"
#include "windows/window_settings.h"

namespace sluice::windows {

WindowSpec spec_of(const WindowConfig& config);

}  // namespace sluice::windows
