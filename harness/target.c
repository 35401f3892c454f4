/* placeholder until the target module lands */
#include "rebound/error.h"
typedef int rb_placeholder_target;
