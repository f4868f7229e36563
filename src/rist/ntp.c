#include "rist/ntp.h"

#include "braid/rtcp.h"

uint64_t braid_rist_ntp_at(uint64_t wall_us, uint64_t elapsed_us)
{
	return braid_ntp_from_us(wall_us + elapsed_us +
				 (uint64_t)BRAID_RIST_NTP_UNIX_OFFSET * 1000000u);
}
