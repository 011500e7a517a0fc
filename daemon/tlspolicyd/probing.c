/* probing - the daemon's probes; see probing.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "util/clock.h"
#include "fleet/fleet.h"
#include "watch/alert.h"
#include "util/buf.h"
#include "util/kv.h"
#include "util/ownaddr.h"
#include "probe/probe.h"
#include "probe/probefleet.h"
#include "probe/probeplan.h"
#include "probe/prober.h"
#include "probe/probereport.h"
#include "probe/probesched.h"
#include "probe/probestate.h"
#include "probing.h"

/* How many destinations' probe history the daemon keeps. */
#define HISTORY_DESTS 10000
/* Writes of the history file come at most this often. */
#define SAVE_DELAY_MS 2000
/* This host's addresses are listed again when a plan needs them and the
 * list is older than this: a new address is refused within seconds, and
 * a busy daemon asks the kernel a few times a minute, not per answer. */
#define OWN_REFRESH_MS 10000

struct probing {
	struct event_base *base;
	struct log *log;
	struct policymap *pm;
	struct alerter *alerter;
	struct config *cfg;
	struct probe_env *env;
	struct prober *prober;
	struct probestate *state;
	struct probesched *sched;	/* NULL when probes are disabled */
	struct probefleet *shared;	/* the fleet's share, between sched and the pool */
	struct event *shared_wake;	/* probefleet_wake() */
	bool shared_rejected_said;	/* a shared result refused: said once */
	struct event *schedule;		/* looks for destinations due again */
	struct event *save;		/* writes the history file */
	char *history_path;
	bool save_failed;		/* said once until a save works again */
	struct buf line;
	struct netaddr *own;		/* this host's addresses (ownaddr_load) */
	size_t nown;
	uint64_t own_loaded_ms;
	bool own_failed;		/* said once until a load works again */
	uint64_t by_class[PROBE_CLASS_COUNT];
	void (*news)(void *arg, const char *dest, enum probing_news n);
	void *news_arg;
};

static struct prober_settings
limits(const struct config *cfg)
{
	struct prober_settings s = {
		.workers = cfg->probe_workers,
		.concurrency = cfg->probe_concurrency,
		.queue_max = cfg->probe_queue_max,
		.rate = cfg->probe_rate,
		.host_interval_ms = cfg->probe_host_interval_ms,
	};
	return s;
}

static void check_all_mismatch(struct probing *pg, const char *dest);

void
probing_load_history(struct probing *pg)
{
	char why[600];

	if (!pg->state || !pg->history_path)
		return;
	if (probestate_load(pg->state, pg->history_path, (int64_t)time(NULL), why, sizeof(why)) < 0)
		log_event(pg->log, LOGL_WARNING, "state-read", "file", pg->history_path, "error", why, NULL);
}

bool
probing_all_mismatch(void *arg, const char *dest)
{
	const struct probing *pg = arg;

	return pg->state && probestate_all_mismatch(pg->state, dest);
}

void
probing_demand(struct probing *pg, const char *dest)
{
	if (pg->sched)
		probesched_demand(pg->sched, dest);
}

void
probing_stats(const struct probing *pg, struct buf *out)
{
	struct prober_stats st = {0};

	if (pg->prober)
		prober_stats(pg->prober, &st);
	kv_str(out, "probes", pg->prober ? "enabled" : "disabled");
	kv_uint(out, "probes_queued", st.queued);
	kv_uint(out, "probes_running", st.running);
	kv_uint(out, "probes_submitted", st.submitted);
	kv_uint(out, "probes_started", st.started);
	kv_uint(out, "probes_finished", st.finished);
	kv_uint(out, "probes_dropped", st.dropped);
	struct probefleet_stats fs;
	probing_fleet_stats(pg, &fs);
	kv_uint(out, "probes_shared_hits", fs.shared_hits);
	kv_uint(out, "probes_shared_rejected", fs.shared_rejected);
	kv_uint(out, "probes_lease_taken", fs.lease_taken);
	kv_uint(out, "probes_lease_held", fs.lease_held);
	kv_uint(out, "probes_fleet_alone", fs.fleet_alone);
}

void
probing_fleet_stats(const struct probing *pg, struct probefleet_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (pg->shared)
		probefleet_stats(pg->shared, out);
}

const uint64_t *
probing_class_counts(const struct probing *pg)
{
	return pg->by_class;
}

void
probing_each_addr(const struct probing *pg, const char *dest,
    void (*fn)(void *arg, const struct probestate_addr *a), void *arg)
{
	if (pg->state)
		probestate_each_addr(pg->state, dest, fn, arg);
}

bool
probing_enabled(const struct probing *pg)
{
	return pg->sched != NULL;
}

const struct prober *
probing_prober(const struct probing *pg)
{
	return pg->prober;
}

/* Loads this host's addresses again when the list is old. A failure keeps
 * the last list (the first load, at start, must have worked) and is said
 * once, until a load works again. */
static void
refresh_own(struct probing *pg)
{
	struct netaddr *own;
	size_t n;
	char err[256];
	uint64_t now = clock_monotonic_ms();

	if (now - pg->own_loaded_ms < OWN_REFRESH_MS)
		return;
	pg->own_loaded_ms = now;
	if (ownaddr_load(&own, &n, err, sizeof(err)) < 0) {
		if (!pg->own_failed)
			log_event(pg->log, LOGL_WARNING, "own-addresses", "error", err,
			    "reason", "probes refuse the addresses this host had when last listed", NULL);
		pg->own_failed = true;
		return;
	}
	pg->own_failed = false;
	free(pg->own);
	pg->own = own;
	pg->nown = n;
}

void
probing_resolved(void *arg, const struct resolve_result *r)
{
	struct probing *pg = arg;

	if (pg->sched)
		probesched_resolved(pg->sched, r);
}

static void
chain_digests(const struct probe_result *r, struct buf *spki, struct buf *cert)
{
	for (size_t i = 0; i < r->ncerts; i++) {
		buf_printf(spki, "%s%s", i ? "," : "", r->certs[i].spki_sha256);
		buf_printf(cert, "%s%s", i ? "," : "", r->certs[i].cert_sha256);
	}
	buf_terminate(spki);
	buf_terminate(cert);
}

/* The evidence an administrator needs to contact the other side. */
static void
alert_mismatch(struct probing *pg, const char *dest, const struct probe_target *t, const struct probe_result *r)
{
	struct buf tlsa, spki, cert;
	char addr[64], port[8];

	buf_init(&tlsa);
	buf_init(&spki);
	buf_init(&cert);
	probereport_tlsa_list(t, &tlsa);
	buf_terminate(&tlsa);
	chain_digests(r, &spki, &cert);
	netaddr_format(&t->address, addr, sizeof(addr));
	snprintf(port, sizeof(port), "%u", t->port);
	const char *fields[] = {
		"host", t->host, "addr", addr, "port", port, "tlsa", buf_ptr(&tlsa),
		"chain_spki_sha256", buf_ptr(&spki), "chain_cert_sha256", buf_ptr(&cert), "error", r->dane_error,
		"reason", "the server's certificate matches none of its DNSSEC-signed TLSA records: "
		"Postfix defers mail for it", NULL,
	};
	alerter_raise(pg->alerter, "dane-mismatch", dest, fields, clock_monotonic_ms());
	buf_free(&tlsa);
	buf_free(&spki);
	buf_free(&cert);
}

static void
schedule_save(struct probing *pg)
{
	struct timeval delay = {SAVE_DELAY_MS / 1000, (SAVE_DELAY_MS % 1000) * 1000};

	if (pg->history_path && !evtimer_pending(pg->save, NULL))
		evtimer_add(pg->save, &delay);
}

/* Whole-destination news: an alert when every DANE host fails, and both
 * ways to the daemon (exception proposals and fixes). */
static void
check_all_mismatch(struct probing *pg, const char *dest)
{
	static const char *const fields[] = {
		"reason", "every MX host with TLSA records fails DANE: mail to this destination is deferred", NULL,
	};

	if (probestate_all_mismatch_news(pg->state, dest)) {
		alerter_raise(pg->alerter, "dane-mismatch-all", dest, fields, clock_monotonic_ms());
		if (pg->news)
			pg->news(pg->news_arg, dest, PROBING_ALL_MISMATCH);
	}
	if (probestate_all_verified_news(pg->state, dest) && pg->news)
		pg->news(pg->news_arg, dest, PROBING_ALL_VERIFIED);
}

void
probing_set_news(struct probing *pg, void (*news)(void *arg, const char *dest, enum probing_news n), void *arg)
{
	pg->news = news;
	pg->news_arg = arg;
}

/* One line per probe and the alert name the first destination it was made
 * for; the others get the result in their history (and their own alert
 * when every host of theirs now fails). */
static void
on_result(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *r)
{
	struct probing *pg = arg;
	int64_t now = (int64_t)time(NULL);

	if ((unsigned)r->class < PROBE_CLASS_COUNT)
		pg->by_class[r->class]++;
	buf_reset(&pg->line);
	probereport_kv(dests[0], t, r, &pg->line);
	if (ndests > 1)
		kv_uint(&pg->line, "shared_by", ndests);
	log_line(pg->log, LOGL_INFO, buf_ptr(&pg->line), buf_size(&pg->line));
	if (r->class == PROBE_DANE_MISMATCH)
		alert_mismatch(pg, dests[0], t, r);
	for (size_t i = 0; i < ndests; i++) {
		probestate_record(pg->state, dests[i], t, r, now);
		check_all_mismatch(pg, dests[i]);
	}
	probefleet_result(pg->shared, dests, ndests, t, r, now);
	schedule_save(pg);
}

/* A result this relay did not probe for these destinations: another
 * relay's, through the fleet. One line, as for a probe; the per-host
 * dane-mismatch alert is the prober relay's, while each destination's
 * own news (every host failing) is this relay's to tell. */
static void
shared_record(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *r, int64_t unix_s)
{
	struct probing *pg = arg;
	char addr[64];

	netaddr_format(&t->address, addr, sizeof(addr));
	buf_reset(&pg->line);
	kv_str(&pg->line, "event", "probe-shared");
	kv_str(&pg->line, "dest", dests[0]);
	kv_str(&pg->line, "host", t->host);
	kv_str(&pg->line, "addr", addr);
	kv_uint(&pg->line, "port", t->port);
	kv_str(&pg->line, "class", probe_class_name(r->class));
	kv_uint(&pg->line, "probed", (uint64_t)unix_s);
	if (ndests > 1)
		kv_uint(&pg->line, "shared_by", ndests);
	log_line(pg->log, LOGL_INFO, buf_ptr(&pg->line), buf_size(&pg->line));
	for (size_t i = 0; i < ndests; i++) {
		probestate_record(pg->state, dests[i], t, r, unix_s);
		check_all_mismatch(pg, dests[i]);
	}
	schedule_save(pg);
}

static void
shared_rejected(void *arg, const char *name, const char *why)
{
	struct probing *pg = arg;

	if (pg->shared_rejected_said)
		return;
	pg->shared_rejected_said = true;
	log_event(pg->log, LOGL_WARNING, "probe-shared-rejected", "target", name, "error", why,
	    "reason", "a probe result shared through Redis opens with the fleet's key but is not one a relay "
	    "writes (a relay of another version, or a bug); this relay probes itself. Said once; "
	    "probes_shared_rejected counts them", NULL);
}

static void
shared_wake_in(void *arg, uint64_t delay_ms)
{
	struct probing *pg = arg;
	struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};

	evtimer_add(pg->shared_wake, &tv);
}

static void
on_shared_wake(evutil_socket_t fd, short what, void *arg)
{
	struct probing *pg = arg;

	probefleet_wake(pg->shared);
}

static void
save_now(struct probing *pg)
{
	if (probestate_save(pg->state, pg->history_path) == 0) {
		pg->save_failed = false;
		return;
	}
	if (!pg->save_failed)
		log_event(pg->log, LOGL_WARNING, "state-write", "file", pg->history_path, "error", strerror(errno),
		    "reason", "probe history not saved; check state_directory and its owner", NULL);
	pg->save_failed = true;
}

static void
on_save(evutil_socket_t fd, short what, void *arg)
{
	save_now(arg);
}

static void
on_schedule(evutil_socket_t fd, short what, void *arg)
{
	struct probing *pg = arg;

	probesched_tick(pg->sched);
}

/* The scheduler's seams (probesched.h): the clocks, the policy map, this
 * host's addresses and the pool. */
static uint64_t
sched_now_ms(void *arg)
{
	return clock_monotonic_ms();
}

static int64_t
sched_unix_s(void *arg)
{
	return (int64_t)time(NULL);
}

static uint64_t
sched_last_asked(void *arg, const char *dest)
{
	struct probing *pg = arg;

	return policymap_last_asked(pg->pm, dest);
}

static const struct netaddr *
sched_own(void *arg, size_t *n)
{
	struct probing *pg = arg;

	refresh_own(pg);
	*n = pg->nown;
	return pg->own;
}

/* To the pool; false when it is full (said). */
static bool
pool_submit(struct probing *pg, const char *dest, const struct probe_target *t, bool urgent)
{
	char addr[64];

	int rc = urgent ? prober_submit_urgent(pg->prober, dest, t) : prober_submit(pg->prober, dest, t);
	if (rc != PROBER_FULL)
		return true;
	netaddr_format(&t->address, addr, sizeof(addr));
	log_event(pg->log, LOGL_WARNING, "probe-dropped", "dest", dest, "host", t->host, "addr", addr,
	    "reason", "probe queue full (probe_queue_max); tried again later", NULL);
	return false;
}

static bool
shared_submit(void *arg, const char *dest, const struct probe_target *t)
{
	return pool_submit(arg, dest, t, false);
}

/* A demand is probed here and now, whatever the fleet knows (its result
 * is shared all the same); the rest asks the fleet first. */
static void
sched_submit(void *arg, const char *dest, const struct probe_target *t, bool urgent)
{
	struct probing *pg = arg;

	if (urgent)
		pool_submit(pg, dest, t, true);
	else
		probefleet_submit(pg->shared, dest, t);
}

static void
sched_refused(void *arg, const char *dest, const struct probeplan_item *it)
{
	struct probing *pg = arg;
	char addr[64];

	netaddr_format(&it->target.address, addr, sizeof(addr));
	log_event(pg->log, LOGL_NOTICE, "probe-refused", "dest", dest, "host", it->target.host, "addr", addr,
	    "range", it->refused, "reason", probeplan_refusal(it), NULL);
}

static void
sched_reused(void *arg, const char *dest)
{
	check_all_mismatch(arg, dest);
}

static struct probefleet_settings
shared_settings(const struct config *cfg)
{
	struct probefleet_settings s = {
		.interval_ms = cfg->probe_interval_ms,
		.lease_s = probefleet_lease_s(cfg->probe_timeout_ms),
		/* Waiting targets are probes the pool would otherwise hold. */
		.max_pending = cfg->probe_queue_max,
	};
	return s;
}

static struct probesched_settings
sched_settings(const struct config *cfg)
{
	struct probesched_settings s = {
		.interval_ms = cfg->probe_interval_ms,
		.allow_private = cfg->probe_allow_private,
		.address_limit = cfg->probe_address_limit,
	};
	return s;
}

struct probing *
probing_create(struct event_base *base, struct log *log, struct policymap *pm, struct alerter *alerter,
    struct config *cfg, char *err, size_t errlen)
{
	struct probing *pg = calloc(1, sizeof(*pg));

	if (!pg) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pg->base = base;
	pg->log = log;
	pg->pm = pm;
	pg->alerter = alerter;
	pg->cfg = config_ref(cfg);
	buf_init(&pg->line);
	if (!cfg->probe_enable)
		return pg;
	struct prober_settings ps = limits(cfg);
	/* Probes must know which addresses are this host's own: where the
	 * kernel will not say (a sandbox without netlink), refuse to start
	 * rather than probe blind. */
	if (ownaddr_load(&pg->own, &pg->nown, err, errlen) < 0)
		goto fail;
	pg->own_loaded_ms = clock_monotonic_ms();
	if (!(pg->env = probe_env_from_config(cfg, false, err, errlen)) ||
	    !(pg->prober = prober_create(base, pg->env, &ps, on_result, pg, err, errlen)))
		goto fail;
	struct probesched_ops ops = {
		.now_ms = sched_now_ms, .unix_s = sched_unix_s, .last_asked = sched_last_asked, .own = sched_own,
		.submit = sched_submit, .refused = sched_refused, .reused = sched_reused, .arg = pg,
	};
	struct probesched_settings ss = sched_settings(cfg);
	struct probefleet_ops fops = {
		.now_ms = sched_now_ms, .unix_s = sched_unix_s, .submit = shared_submit, .record = shared_record,
		.rejected = shared_rejected, .wake_in = shared_wake_in, .arg = pg,
	};
	struct probefleet_settings fs = shared_settings(cfg);
	if (!(pg->state = probestate_create(HISTORY_DESTS)) || !(pg->sched = probesched_create(pg->state, &ops, &ss)) ||
	    !(pg->shared = probefleet_create(&fops, &fs)) || !(pg->shared_wake = evtimer_new(base, on_shared_wake, pg)) ||
	    !(pg->schedule = event_new(base, -1, EV_PERSIST, on_schedule, pg)) ||
	    !(pg->save = evtimer_new(base, on_save, pg))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	uint64_t every = probesched_tick_ms(cfg->probe_interval_ms);
	struct timeval tv = {(time_t)(every / 1000), (suseconds_t)(every % 1000) * 1000};
	event_add(pg->schedule, &tv);
	if (cfg->state_directory[0]) {
		struct buf path;
		buf_init(&path);
		buf_printf(&path, "%s/probes", cfg->state_directory);
		if (!(pg->history_path = buf_detach(&path))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	return pg;
fail:
	probing_free(pg);
	return NULL;
}

void
probing_set_config(struct probing *pg, struct config *cfg)
{
	config_ref(cfg);
	config_unref(pg->cfg);
	pg->cfg = cfg;
	if (pg->prober) {
		struct prober_settings ps = limits(cfg);
		prober_set_limits(pg->prober, &ps);
	}
	if (pg->sched) {
		struct probesched_settings ss = sched_settings(cfg);
		probesched_set(pg->sched, &ss);
	}
	if (pg->shared) {
		struct probefleet_settings fs = shared_settings(cfg);
		probefleet_set(pg->shared, &fs);
	}
}

void
probing_set_fleet(struct probing *pg, struct fleet *fleet)
{
	static const struct probefleet_client client = {
		.get = fleet_get, .put = fleet_put, .claim = fleet_claim, .cancel = fleet_cancel,
	};

	if (pg->shared)
		probefleet_set_fleet(pg->shared, fleet, &client);
}

void
probing_free(struct probing *pg)
{
	if (!pg)
		return;
	prober_free(pg->prober);
	/* Its fleet operations cancelled, before the fleet goes. */
	probefleet_free(pg->shared);
	if (pg->shared_wake)
		event_free(pg->shared_wake);
	if (pg->save && evtimer_pending(pg->save, NULL))
		save_now(pg);
	probesched_free(pg->sched);
	probestate_free(pg->state);
	probe_env_free(pg->env);
	if (pg->schedule)
		event_free(pg->schedule);
	if (pg->save)
		event_free(pg->save);
	free(pg->history_path);
	free(pg->own);
	buf_free(&pg->line);
	config_unref(pg->cfg);
	free(pg);
}
