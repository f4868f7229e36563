/* cpu_ns PID...: the CPU time (user + system, all threads, in nanoseconds) each process
 * has used so far, one number per PID on one line. The process CPU clock is exact where
 * /proc/PID/stat counts 10 ms ticks, which is too coarse for a forwarder's few seconds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: cpu_ns PID...\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char *end;
		errno = 0;
		long pid = strtol(argv[i], &end, 10);
		clockid_t clock;
		struct timespec ts;
		int err = errno || *end || pid <= 0 ? EINVAL
						    : clock_getcpuclockid((pid_t)pid, &clock);
		if (!err && clock_gettime(clock, &ts) < 0)
			err = errno;
		if (err) {
			fprintf(stderr, "cpu_ns: %s: %s\n", argv[i], strerror(err));
			return 1;
		}
		unsigned long long ns = (unsigned long long)ts.tv_sec * 1000000000ull +
					(unsigned long long)ts.tv_nsec;
		printf("%s%llu", i > 1 ? " " : "", ns);
	}
	putchar('\n');
	return 0;
}
