// SwiftPM needs one source file per C target; everything is the inline function in include/CPrefetch.h.
#include "CPrefetch.h"
