/* placeholder until the client module lands */
#include "rebound/error.h"
typedef int rb_placeholder_client;
