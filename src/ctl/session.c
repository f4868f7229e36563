#include "ctl/session.h"

#include <string.h>

static const char *const kind_names[] = { "any", "bond_receive", "rtp_proxy" };
static const char *const state_names[] = { "any", "created", "connecting", "active", "error",
					   "closed" };
static const char *const event_names[] = { "?", "created", "state_changed", "stats", "error",
					   "closed" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *ctl_kind_name(enum ctl_kind kind)
{
	return (size_t)kind < COUNT(kind_names) ? kind_names[kind] : "?";
}

const char *ctl_state_name(enum ctl_state state)
{
	return (size_t)state < COUNT(state_names) ? state_names[state] : "?";
}

const char *ctl_event_name(enum ctl_event_type type)
{
	return (size_t)type < COUNT(event_names) ? event_names[type] : "?";
}

static bool find_name(const char *const *names, size_t count, const char *text, int *out)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(names[i], text) == 0) {
			*out = (int)i;
			return true;
		}
	}
	return false;
}

bool ctl_kind_parse(const char *text, enum ctl_kind *out)
{
	int i;
	if (!find_name(kind_names, COUNT(kind_names), text, &i))
		return false;
	*out = (enum ctl_kind)i;
	return true;
}

bool ctl_state_parse(const char *text, enum ctl_state *out)
{
	int i;
	if (!find_name(state_names, COUNT(state_names), text, &i))
		return false;
	*out = (enum ctl_state)i;
	return true;
}

void ctl_stats_add(struct ctl_stats *total, const struct ctl_stats *base,
		   const struct ctl_stats *now)
{
	*total = *now;
	total->packets_received += base->packets_received;
	total->packets_sent += base->packets_sent;
	total->bytes_received += base->bytes_received;
	total->bytes_sent += base->bytes_sent;
	total->packets_lost += base->packets_lost;
	total->packets_invalid += base->packets_invalid;
	total->packets_rate_limited += base->packets_rate_limited;
}
