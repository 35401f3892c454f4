/* placeholder until the media module lands */
#include "rebound/error.h"
typedef int rb_placeholder_media;
