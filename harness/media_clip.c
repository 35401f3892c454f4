/* placeholder until the media_clip module lands */
#include "rebound/error.h"
typedef int rb_placeholder_media_clip;
