/* peerlimit - connections per peer; see peerlimit.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/strmap.h"
#include "serve/peerlimit.h"

struct peerlimit_peer {
	unsigned conns;
	uint64_t refused;	/* since the last report */
	bool reported;		/* there was one, at reported_us */
	uint64_t reported_us;
	char key[PEER_KEY_MAX];
};

struct peerlimit {
	struct strmap *peers;	/* key -> struct peerlimit_peer */
};

struct peerlimit *
peerlimit_create(void)
{
	struct peerlimit *pl = calloc(1, sizeof(*pl));

	if (pl && !(pl->peers = strmap_create())) {
		free(pl);
		return NULL;
	}
	return pl;
}

void
peerlimit_free(struct peerlimit *pl)
{
	if (!pl)
		return;
	strmap_free(pl->peers, free);
	free(pl);
}

enum peerlimit_result
peerlimit_admit(struct peerlimit *pl, const char *key, unsigned max, uint64_t now_us,
    struct peerlimit_peer **peer, struct peerlimit_report *report)
{
	struct peerlimit_peer *p = strmap_get(pl->peers, key);

	*peer = NULL;
	report->due = false;
	if (!p) {
		if (!(p = calloc(1, sizeof(*p))))
			return PEERLIMIT_NO_MEMORY;
		snprintf(p->key, sizeof(p->key), "%s", key);
		if (strmap_put(pl->peers, p->key, p) < 0) {
			free(p);
			return PEERLIMIT_NO_MEMORY;
		}
	}
	if (p->conns < max) {
		p->conns++;
		*peer = p;
		return PEERLIMIT_ADMITTED;
	}
	p->refused++;
	snprintf(report->key, sizeof(report->key), "%s", p->key);
	report->connections = p->conns;
	report->refused = p->refused;
	if (!p->reported || now_us - p->reported_us >= PEERLIMIT_REPORT_US) {
		report->due = p->reported = true;
		p->reported_us = now_us;
		p->refused = 0;
	}
	/* max 0 refuses even a peer with none, whose entry goes again (and
	 * with it the time of the report: each is due). */
	if (p->conns == 0)
		free(strmap_remove(pl->peers, p->key));
	return PEERLIMIT_REFUSED;
}

void
peerlimit_release(struct peerlimit *pl, struct peerlimit_peer *peer)
{
	if (peer->conns > 0 && --peer->conns == 0)
		free(strmap_remove(pl->peers, peer->key));
}

size_t
peerlimit_count(const struct peerlimit *pl)
{
	return strmap_count(pl->peers);
}
