/* placeholder until the sockdiag module lands */
#include "rebound/error.h"
typedef int rb_placeholder_sockdiag;
