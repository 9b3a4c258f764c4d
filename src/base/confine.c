#include "base/confine.h"

void (*confine_hook)(enum confine_kind kind);
