/* placeholder until the probe module lands */
#include "rebound/error.h"
typedef int rb_placeholder_probe;
