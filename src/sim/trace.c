/* Synthetic mahimahi traces from the link model's own Ornstein-Uhlenbeck rate: a server kept
 * busy with 1500-byte packets, each departure one delivery opportunity. A link replaying
 * the trace then has, on average, the OU link's capacity, with the same shape over time. */
#include "braid/error.h"
#include "sim/sim.h"

#define TRACE_MTU 1500u

int braid_sim_write_trace(FILE *f, const struct braid_ou_settings *ou, uint64_t duration_us,
			  uint64_t seed)
{
	struct braid_model_settings s;
	struct braid_model *m;
	uint64_t t = 0, lines = 0;

	if (duration_us < 1000)
		return BRAID_ERR_INVAL;
	braid_model_settings_default(&s);
	s.rate_kind = BRAID_RATE_OU;
	s.ou = *ou;
	s.seed = seed;
	m = braid_model_new(&s, 0);
	if (!m)
		return BRAID_ERR_INVAL;
	for (;;) {
		struct braid_fate fate = braid_model_offer(m, t, TRACE_MTU);

		if (fate.kind != BRAID_FATE_DELIVER || fate.deliver_at_us >= duration_us)
			break;
		t = fate.deliver_at_us;
		fprintf(f, "%llu\n", (unsigned long long)(t / 1000));
		lines++;
	}
	/* The last line is the loop's period: the trace lasts exactly the duration. */
	fprintf(f, "%llu\n", (unsigned long long)(duration_us / 1000));
	braid_model_free(m);
	return ferror(f) || lines == 0 ? BRAID_ERR_IO : 0;
}
