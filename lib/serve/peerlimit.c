/* peerlimit - connections per peer; see peerlimit.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/map.h"
#include "serve/peerlimit.h"

struct peerlimit_peer {
	struct map_node node;	/* in peerlimit.peers, under key */
	unsigned conns;
	uint64_t refused;	/* since the last report */
	bool reported;		/* there was one, at reported_us */
	uint64_t reported_us;
	char key[PEER_KEY_MAX];
};

struct peerlimit {
	/* Keyed under a random seed: a remote peer's key is its address,
	 * which strangers choose. */
	struct map peers;
};

struct peerlimit *
peerlimit_create(void)
{
	struct peerlimit *pl = calloc(1, sizeof(*pl));
	unsigned char seed[16];

	if (!pl)
		return NULL;
	hash_random_seed(seed);
	map_init(&pl->peers, seed);
	return pl;
}

static void
free_peer(void *arg, struct map_node *n)
{
	free(MAP_ENTRY(n, struct peerlimit_peer, node));
}

void
peerlimit_free(struct peerlimit *pl)
{
	if (!pl)
		return;
	map_clear(&pl->peers, free_peer, NULL);
	free(pl);
}

static void
forget(struct peerlimit *pl, struct peerlimit_peer *p)
{
	map_remove(&pl->peers, &p->node);
	free(p);
}

enum peerlimit_result
peerlimit_admit(struct peerlimit *pl, const char *key, unsigned max, uint64_t now_us,
    struct peerlimit_peer **peer, struct peerlimit_report *report)
{
	struct peerlimit_peer *p = MAP_ENTRY(map_find_str(&pl->peers, key), struct peerlimit_peer, node);

	*peer = NULL;
	report->due = false;
	if (!p) {
		if (!(p = calloc(1, sizeof(*p))))
			return PEERLIMIT_NO_MEMORY;
		snprintf(p->key, sizeof(p->key), "%s", key);
		map_put_str(&pl->peers, &p->node, p->key);
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
		forget(pl, p);
	return PEERLIMIT_REFUSED;
}

void
peerlimit_release(struct peerlimit *pl, struct peerlimit_peer *peer)
{
	if (peer->conns > 0 && --peer->conns == 0)
		forget(pl, peer);
}

size_t
peerlimit_count(const struct peerlimit *pl)
{
	return map_count(&pl->peers);
}
