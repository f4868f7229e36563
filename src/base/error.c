/* Messages for braid's error codes, generated from the one list in error.h so the enum
 * and its descriptions cannot drift apart. */
#include "braid/error.h"

const char *braid_strerror(int code)
{
	switch (code) {
#define BRAID_ERROR_CASE(name, value, message) \
	case value:                            \
		return message;
		BRAID_ERRORS(BRAID_ERROR_CASE)
#undef BRAID_ERROR_CASE
	default:
		return "unknown error";
	}
}
