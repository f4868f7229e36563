/* NTP time for RIST's RTCP (SR timestamps, RTT echoes), from the wall clock the caller
 * read once at start and the monotonic time since: the core reads no clock. */
#ifndef BRAID_RIST_NTP_H
#define BRAID_RIST_NTP_H

#include <stdint.h>

#define BRAID_RIST_NTP_UNIX_OFFSET 2208988800u /* seconds from 1900 to 1970 */

/* The NTP time (32.32, since 1900) `elapsed_us` after the wall clock read `wall_us`
 * (microseconds since 1970). */
uint64_t braid_rist_ntp_at(uint64_t wall_us, uint64_t elapsed_us);

#endif
