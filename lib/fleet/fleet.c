/*
 * fleet - see fleet.h for the contract.
 *
 * An operation is one or a few Redis commands in a row; it holds its key
 * and its command in flight, and is on the fleet's list until it calls
 * back or is cancelled, so that fleet_free() can let go of them all.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/kv.h"
#include "util/list.h"
#include "config/config.h"
#include "fleet/fleet.h"
#include "fleet/redisconn.h"

/* A value stored for less than this would be gone before anyone read it. */
#define MIN_STORE_MS 1000

static const char *const kind_names[FLEET_KIND_COUNT] = {
	"sts", "probe", "lease", "alert", "stale", "maillog", "proposal",
};

const char *
fleet_kind_name(enum fleet_kind k)
{
	return (unsigned)k < FLEET_KIND_COUNT ? kind_names[k] : "?";
}

struct fleet {
	struct log *log;
	struct redisconn *server, *replica;
	bool readonly;
	struct fleetvalue_key key;
	char *prefix, *relay;
	fleet_wall_clock *wall;
	void *wall_arg;
	struct list ops;
	struct fleet_stats stats;	/* the counters; fleet_stats() adds the connections' */
	bool said_rejected[FLEET_KIND_COUNT][FLEETVALUE_VERDICT_COUNT];
	bool said_error;		/* an error reply, until a write works again */
};

enum stage { GET, GET_ALL, CLAIM_NX, CLAIM_READ, CLAIM_REPLACE };

struct fleet_op {
	struct fleet *f;
	struct list_node link;		/* in f->ops */
	enum fleet_kind kind;
	enum stage stage;
	struct redisconn_cmd *cmd;
	int64_t life_s;			/* GET: the longest a value may count; claims: the lease */
	fleet_got *got;
	fleet_each *each;
	fleet_done *done;
	fleet_claimed *claimed;
	void *arg;
	struct buf sealed;		/* a claim's value */
	char key[];
};

static int64_t
system_wall_clock(void *arg)
{
	return (int64_t)time(NULL);
}

struct fleet *
fleet_from_config(struct event_base *base, struct log *log, const struct config *cfg, char *err, size_t errlen)
{
	struct fleet_settings s = {.readonly = cfg->redis_readonly, .password = cfg->redis_password,
	    .timeout_ms = cfg->redis_timeout_ms, .prefix = cfg->redis_prefix, .relay = cfg->redis_relay_name};
	struct fleetvalue_key key;
	char why[300], host[256] = "";

	err[0] = '\0';
	if (!cfg->redis_server[0])
		return NULL;
	if (config_redis_endpoint(cfg->redis_server, &s.server, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "redis_server: %s", why);
		return NULL;
	}
	if (cfg->redis_replica[0]) {
		if (config_redis_endpoint(cfg->redis_replica, &s.replica, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "redis_replica: %s", why);
			return NULL;
		}
		s.has_replica = true;
	}
	if (fleetvalue_key_load(cfg->redis_key_file, &key, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "redis_key_file: %s", why);
		return NULL;
	}
	s.key = &key;
	if (!s.relay[0]) {
		if (gethostname(host, sizeof(host) - 1) < 0 || !host[0]) {
			snprintf(err, errlen, "redis_relay_name is empty and the host has no name: set it");
			explicit_bzero(&key, sizeof(key));
			return NULL;
		}
		s.relay = host;
	}
	struct fleet *f = fleet_create(base, log, &s, err, errlen);
	explicit_bzero(&key, sizeof(key));
	return f;
}

struct fleet *
fleet_create(struct event_base *base, struct log *log, const struct fleet_settings *s, char *err, size_t errlen)
{
	struct fleet *f = calloc(1, sizeof(*f));
	struct redisconn_settings cs = {.password = s->password, .timeout_ms = s->timeout_ms};

	if (!f || !(f->prefix = strdup(s->prefix ? s->prefix : "")) || !(f->relay = strdup(s->relay ? s->relay : ""))) {
		snprintf(err, errlen, "out of memory");
		fleet_free(f);
		return NULL;
	}
	f->log = log;
	f->readonly = s->readonly;
	f->key = *s->key;
	f->wall = system_wall_clock;
	cs.endpoint = s->server;
	cs.role = "server";
	if (!(f->server = redisconn_create(base, log, &cs, err, errlen))) {
		fleet_free(f);
		return NULL;
	}
	if (s->has_replica) {
		cs.endpoint = s->replica;
		cs.role = "replica";
		if (!(f->replica = redisconn_create(base, log, &cs, err, errlen))) {
			fleet_free(f);
			return NULL;
		}
	}
	return f;
}

void
fleet_free(struct fleet *f)
{
	struct list_node *n;

	if (!f)
		return;
	/* Freeing the connections fails their commands without a call. */
	redisconn_free(f->server);
	redisconn_free(f->replica);
	while ((n = list_pop_front(&f->ops))) {
		struct fleet_op *op = LIST_ENTRY(n, struct fleet_op, link);
		buf_free(&op->sealed);
		free(op);
	}
	explicit_bzero(&f->key, sizeof(f->key));
	free(f->prefix);
	free(f->relay);
	free(f);
}

void
fleet_set_wall_clock(struct fleet *f, fleet_wall_clock *clock, void *arg)
{
	f->wall = clock;
	f->wall_arg = arg;
}

const char *
fleet_relay(const struct fleet *f)
{
	return f->relay;
}

bool
fleet_up(const struct fleet *f)
{
	return f && redisconn_up(f->server);
}

/* Reads go where they are cheapest: the replica, while it answers. */
static struct redisconn *
reader(const struct fleet *f)
{
	return redisconn_up(f->replica) ? f->replica : f->server;
}

static struct fleet_op *
new_op(struct fleet *f, enum fleet_kind kind, const char *name)
{
	size_t plen = strlen(f->prefix), klen = strlen(kind_names[kind]), nlen = strlen(name);
	struct fleet_op *op = calloc(1, sizeof(*op) + plen + klen + 1 + nlen + 1);

	if (!op)
		return NULL;
	op->f = f;
	op->kind = kind;
	buf_init(&op->sealed);
	snprintf(op->key, plen + klen + nlen + 2, "%s%s:%s", f->prefix, kind_names[kind], name);
	return op;
}

static void
free_op(struct fleet_op *op)
{
	buf_free(&op->sealed);
	free(op);
}

/* Off the list, before its callback runs: the callback may start others. */
static void
end_op(struct fleet_op *op)
{
	list_remove(&op->f->ops, &op->link);
}

static void
said_error(struct fleet *f, const struct redisconn_reply *r, const char *key)
{
	char error[160];

	if (f->said_error)
		return;
	f->said_error = true;
	snprintf(error, sizeof(error), "%.*s", (int)(r->len > 150 ? 150 : r->len), r->str ? r->str : "");
	log_event(f->log, LOGL_WARNING, "redis-error", "key", key, "error", error, "action",
	    "this relay works alone for what Redis refuses; check the server (memory, ACLs)", NULL);
}

/* A value that does not count: counted, and said once per kind and
 * reason. */
static void
count_rejected(struct fleet *f, enum fleet_kind kind, const char *key, enum fleetvalue_verdict v)
{
	f->stats.rejected[kind][v]++;
	if (f->said_rejected[kind][v])
		return;
	f->said_rejected[kind][v] = true;
	bool stale = v == FLEETVALUE_EXPIRED || v == FLEETVALUE_VERSION_UNKNOWN;
	log_event(f->log, stale ? LOGL_NOTICE : LOGL_WARNING, "fleet-value-rejected", "key", key, "verdict",
	    fleetvalue_verdict_name(v), "action", stale ? "ignored; this relay does the work itself" :
	    "ignored; someone without the fleet's key writes to Redis, or relays have different "
	    "redis_key_file secrets: check both (said once per kind and reason)", NULL);
}

/* Opens a value read from Redis. */
static enum fleetvalue_verdict
open_value(struct fleet *f, const struct fleet_op *op, const struct redisconn_reply *r, int64_t max_life_s,
    const char **payload, size_t *len, int64_t *expires)
{
	enum fleetvalue_verdict v =
	    fleetvalue_open(&f->key, op->key, r->str, r->len, f->wall(f->wall_arg), max_life_s, payload, len, expires);

	if (v != FLEETVALUE_OK)
		count_rejected(f, op->kind, op->key, v);
	return v;
}

/* ---- Reads. ---- */

static void
on_got(void *arg, const struct redisconn_reply *r)
{
	struct fleet_op *op = arg;
	struct fleet *f = op->f;
	const char *payload = NULL;
	size_t len = 0;
	int64_t expires = 0;
	enum fleet_found found;

	end_op(op);
	if (!r || (r->type != REDISCONN_STRING && r->type != REDISCONN_NIL)) {
		if (r && r->type == REDISCONN_ERROR)
			said_error(f, r, op->key);
		f->stats.unreachable++;
		found = FLEET_UNREACHABLE;
	} else if (r->type == REDISCONN_NIL) {
		found = FLEET_ABSENT;
	} else if (open_value(f, op, r, op->life_s, &payload, &len, &expires) == FLEETVALUE_OK) {
		f->stats.hits[op->kind]++;
		found = FLEET_FOUND;
	} else {
		found = FLEET_REJECTED;
	}
	op->got(op->arg, found, payload, len, expires);
	free_op(op);
}

static bool
send_key(struct fleet_op *op, struct redisconn *conn, const char *command, redisconn_callback *cb)
{
	const char *argv[2] = {command, op->key};
	size_t argvlen[2] = {strlen(command), strlen(op->key)};

	return (op->cmd = redisconn_command(conn, 2, argv, argvlen, cb, op)) != NULL;
}

struct fleet_op *
fleet_get(struct fleet *f, enum fleet_kind kind, const char *name, int64_t max_life_s, fleet_got *cb, void *arg)
{
	struct fleet_op *op;

	f->stats.gets[kind]++;
	if (!redisconn_up(reader(f)) || !(op = new_op(f, kind, name))) {
		f->stats.skipped++;
		return NULL;
	}
	op->stage = GET;
	op->life_s = max_life_s;
	op->got = cb;
	op->arg = arg;
	if (!send_key(op, reader(f), "GET", on_got)) {
		f->stats.skipped++;
		free_op(op);
		return NULL;
	}
	list_push_back(&f->ops, &op->link);
	return op;
}

/* ---- Writes. ---- */

static void
on_put(void *arg, const struct redisconn_reply *r)
{
	struct fleet *f = arg;

	if (r && r->type == REDISCONN_ERROR)
		said_error(f, r, "(a write)");
	else if (r)
		f->said_error = false;
}

/* SET key value PX ms [NX]: 0, or -1 when it could not be sent. */
static struct redisconn_cmd *
send_set(struct fleet *f, const char *key, const struct buf *value, int64_t ms, bool nx, redisconn_callback *cb,
    void *arg)
{
	char px[24];
	const char *argv[6] = {"SET", key, buf_ptr(value), "PX", px, "NX"};
	size_t argvlen[6] = {3, strlen(key), buf_size(value), 2, 0, 2};

	argvlen[4] = (size_t)snprintf(px, sizeof(px), "%lld", (long long)(ms < MIN_STORE_MS ? MIN_STORE_MS : ms));
	return redisconn_command(f->server, nx ? 6 : 5, argv, argvlen, cb, arg);
}

void
fleet_put(struct fleet *f, enum fleet_kind kind, const char *name, int64_t expires, const void *payload,
    size_t len)
{
	struct fleet_op *op;
	int64_t now = f->wall(f->wall_arg);

	if (f->readonly || !redisconn_up(f->server) || expires <= now || !(op = new_op(f, kind, name))) {
		f->stats.skipped++;
		return;
	}
	if (fleetvalue_seal(&f->key, op->key, expires, payload, len, &op->sealed) == 0 &&
	    send_set(f, op->key, &op->sealed, (expires - now) * 1000, false, on_put, f))
		f->stats.puts[kind]++;
	else
		f->stats.skipped++;
	free_op(op);
}

/* ---- One value per relay. ---- */

/* The name a relay's value is sealed for: the key and the field. */
static void
field_name(struct buf *out, const char *key, const char *relay, size_t rlen)
{
	buf_reset(out);
	buf_printf(out, "%s#%.*s", key, (int)rlen, relay);
	buf_terminate(out);
}

void
fleet_put_field(struct fleet *f, enum fleet_kind kind, const char *name, const char *field, int64_t expires,
    const void *payload, size_t len)
{
	struct fleet_op *op;
	struct buf sealed_for;
	int64_t now = f->wall(f->wall_arg);
	char px[24];

	if (f->readonly || !redisconn_up(f->server) || expires <= now || strlen(field) > FLEET_FIELD_MAX ||
	    !(op = new_op(f, kind, name))) {
		f->stats.skipped++;
		return;
	}
	buf_init(&sealed_for);
	field_name(&sealed_for, op->key, field, strlen(field));
	const char *hset[4] = {"HSET", op->key, field, NULL};
	size_t hsetlen[4] = {4, strlen(op->key), strlen(field), 0};
	int64_t ms = (expires - now) * 1000;
	const char *pexpire[3] = {"PEXPIRE", op->key, px};
	size_t pexpirelen[3] = {7, strlen(op->key), 0};
	pexpirelen[2] = (size_t)snprintf(px, sizeof(px), "%lld", (long long)(ms < MIN_STORE_MS ? MIN_STORE_MS : ms));
	if (fleetvalue_seal(&f->key, buf_ptr(&sealed_for), expires, payload, len, &op->sealed) == 0) {
		hset[3] = buf_ptr(&op->sealed);
		hsetlen[3] = buf_size(&op->sealed);
		if (redisconn_command(f->server, 4, hset, hsetlen, on_put, f) &&
		    redisconn_command(f->server, 3, pexpire, pexpirelen, on_put, f))
			f->stats.puts[kind]++;
		else
			f->stats.skipped++;
	} else {
		f->stats.skipped++;
	}
	buf_free(&sealed_for);
	free_op(op);
}

void
fleet_put_mine(struct fleet *f, enum fleet_kind kind, const char *name, int64_t expires, const void *payload,
    size_t len)
{
	fleet_put_field(f, kind, name, f->relay, expires, payload, len);
}

void
fleet_del_field(struct fleet *f, enum fleet_kind kind, const char *name, const char *field)
{
	struct fleet_op *op;

	if (f->readonly || !redisconn_up(f->server) || !(op = new_op(f, kind, name))) {
		f->stats.skipped++;
		return;
	}
	const char *hdel[3] = {"HDEL", op->key, field};
	size_t hdellen[3] = {4, strlen(op->key), strlen(field)};
	if (!redisconn_command(f->server, 3, hdel, hdellen, on_put, f))
		f->stats.skipped++;
	free_op(op);
}

static void
on_got_all(void *arg, const struct redisconn_reply *r)
{
	struct fleet_op *op = arg;
	struct fleet *f = op->f;
	struct buf sealed_for;
	char name[FLEET_FIELD_MAX + 1];

	end_op(op);
	if (!r || r->type != REDISCONN_ARRAY) {
		if (r && r->type == REDISCONN_ERROR)
			said_error(f, r, op->key);
		f->stats.unreachable++;
		op->done(op->arg, FLEET_UNREACHABLE);
		free_op(op);
		return;
	}
	buf_init(&sealed_for);
	for (size_t i = 0; i + 1 < r->nelements && i / 2 < FLEET_FIELDS_MAX; i += 2) {
		const struct redisconn_reply *field = &r->elements[i], *value = &r->elements[i + 1];
		const char *payload;
		size_t len;
		int64_t expires;
		if (field->type != REDISCONN_STRING || value->type != REDISCONN_STRING || field->len > FLEET_FIELD_MAX ||
		    memchr(field->str, '\0', field->len)) {
			f->stats.rejected[op->kind][FLEETVALUE_MALFORMED]++;
			continue;
		}
		field_name(&sealed_for, op->key, field->str, field->len);
		enum fleetvalue_verdict v = fleetvalue_open(&f->key, buf_ptr(&sealed_for), value->str, value->len,
		    f->wall(f->wall_arg), op->life_s, &payload, &len, &expires);
		if (v != FLEETVALUE_OK) {
			count_rejected(f, op->kind, buf_ptr(&sealed_for), v);
			continue;
		}
		f->stats.hits[op->kind]++;
		memcpy(name, field->str, field->len);
		name[field->len] = '\0';
		op->each(op->arg, name, payload, len, expires);
	}
	buf_free(&sealed_for);
	op->done(op->arg, r->nelements ? FLEET_FOUND : FLEET_ABSENT);
	free_op(op);
}

struct fleet_op *
fleet_get_all(struct fleet *f, enum fleet_kind kind, const char *name, int64_t max_life_s, fleet_each *each,
    fleet_done *done, void *arg)
{
	struct fleet_op *op;

	f->stats.gets[kind]++;
	if (!redisconn_up(reader(f)) || !(op = new_op(f, kind, name))) {
		f->stats.skipped++;
		return NULL;
	}
	op->stage = GET_ALL;
	op->life_s = max_life_s;
	op->each = each;
	op->done = done;
	op->arg = arg;
	if (!send_key(op, reader(f), "HGETALL", on_got_all)) {
		f->stats.skipped++;
		free_op(op);
		return NULL;
	}
	list_push_back(&f->ops, &op->link);
	return op;
}

/* ---- Claims. ---- */

static void
claim_done(struct fleet_op *op, enum fleet_claim c, const char *holder)
{
	struct fleet *f = op->f;

	end_op(op);
	if (c == FLEET_CLAIM_OURS)
		f->stats.claims_ours[op->kind]++;
	else if (c == FLEET_CLAIM_HELD)
		f->stats.claims_held[op->kind]++;
	else
		f->stats.claims_alone[op->kind]++;
	op->claimed(op->arg, c, holder);
	free_op(op);
}

static void on_claim(void *arg, const struct redisconn_reply *r);

/* The next command of a claim; false when it could not be sent. */
static bool
claim_step(struct fleet_op *op, enum stage stage)
{
	struct fleet *f = op->f;

	op->stage = stage;
	if (stage == CLAIM_READ)
		return send_key(op, f->readonly ? reader(f) : f->server, "GET", on_claim);
	op->cmd = send_set(f, op->key, &op->sealed, op->life_s * 1000, stage == CLAIM_NX, on_claim, op);
	return op->cmd != NULL;
}

static void
on_claim(void *arg, const struct redisconn_reply *r)
{
	struct fleet_op *op = arg;
	struct fleet *f = op->f;
	const char *holder;
	size_t len;
	int64_t expires;
	char name[128];

	op->cmd = NULL;
	if (!r || (r->type != REDISCONN_STRING && r->type != REDISCONN_NIL)) {
		if (r && r->type == REDISCONN_ERROR)
			said_error(f, r, op->key);
		f->stats.unreachable++;
		claim_done(op, FLEET_CLAIM_ALONE, NULL);
		return;
	}
	switch (op->stage) {
	case CLAIM_NX:
		if (r->type == REDISCONN_STRING) {
			claim_done(op, FLEET_CLAIM_OURS, NULL);
			return;
		}
		if (!claim_step(op, CLAIM_READ))
			claim_done(op, FLEET_CLAIM_ALONE, NULL);
		return;
	case CLAIM_READ:
		if (r->type == REDISCONN_STRING &&
		    open_value(f, op, r, op->life_s, &holder, &len, &expires) == FLEETVALUE_OK) {
			snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1), holder);
			/* Our own claim, made before: still ours. */
			claim_done(op, strcmp(name, f->relay) == 0 && !f->readonly ? FLEET_CLAIM_OURS : FLEET_CLAIM_HELD,
			    name);
			return;
		}
		/* Gone meanwhile, or a value that does not count: it cannot
		 * make this relay skip the work. Replaced where we may write. */
		if (f->readonly || !claim_step(op, CLAIM_REPLACE))
			claim_done(op, FLEET_CLAIM_ALONE, NULL);
		return;
	case CLAIM_REPLACE:
		claim_done(op, FLEET_CLAIM_OURS, NULL);
		return;
	case GET:
	case GET_ALL:
		break;
	}
	claim_done(op, FLEET_CLAIM_ALONE, NULL);
}

struct fleet_op *
fleet_claim(struct fleet *f, enum fleet_kind kind, const char *name, int64_t life_s, fleet_claimed *cb, void *arg)
{
	struct fleet_op *op;
	int64_t now = f->wall(f->wall_arg);
	struct redisconn *first = f->readonly ? reader(f) : f->server;

	if (life_s < 1)
		life_s = 1;
	if (!redisconn_up(first) || !(op = new_op(f, kind, name))) {
		f->stats.skipped++;
		return NULL;
	}
	op->life_s = life_s;
	op->claimed = cb;
	op->arg = arg;
	if (fleetvalue_seal(&f->key, op->key, now + life_s, f->relay, strlen(f->relay), &op->sealed) < 0 ||
	    !claim_step(op, f->readonly ? CLAIM_READ : CLAIM_NX)) {
		f->stats.skipped++;
		free_op(op);
		return NULL;
	}
	list_push_back(&f->ops, &op->link);
	return op;
}

void
fleet_cancel(struct fleet_op *op)
{
	if (!op)
		return;
	redisconn_cancel(op->cmd);
	end_op(op);
	free_op(op);
}

void
fleet_format_stats(const struct fleet *f, struct buf *out)
{
	struct fleet_stats st;
	uint64_t hits = 0, gets = 0, rejected = 0;

	if (!f) {
		kv_str(out, "fleet", "off");
		return;
	}
	fleet_stats(f, &st);
	for (int k = 0; k < FLEET_KIND_COUNT; k++) {
		hits += st.hits[k];
		gets += st.gets[k];
		for (int v = 0; v < FLEETVALUE_VERDICT_COUNT; v++)
			rejected += st.rejected[k][v];
	}
	kv_str(out, "fleet", st.up ? "up" : "down");
	if (f->replica)
		kv_str(out, "fleet_replica", st.replica_up ? "up" : "down");
	kv_str(out, "fleet_relay", f->relay);
	kv_uint(out, "fleet_reads", gets);
	kv_uint(out, "fleet_shared_hits", hits);
	kv_uint(out, "fleet_sts_policies_shared", st.hits[FLEET_STS]);
	kv_uint(out, "fleet_probe_results_shared", st.hits[FLEET_PROBE]);
	kv_uint(out, "fleet_leases_taken", st.claims_ours[FLEET_PROBE_LEASE]);
	kv_uint(out, "fleet_leases_held", st.claims_held[FLEET_PROBE_LEASE]);
	kv_uint(out, "fleet_alerts_held", st.claims_held[FLEET_ALERT]);
	kv_uint(out, "fleet_rejected", rejected);
	kv_uint(out, "fleet_unreachable", st.unreachable);
	kv_uint(out, "fleet_commands", st.commands);
	kv_uint(out, "fleet_timeouts", st.timeouts);
	kv_uint(out, "fleet_outages", st.outages);
	kv_uint(out, "fleet_rtt_avg_us", st.rtt.count ? (uint64_t)(st.rtt.sum * 1e6 / (double)st.rtt.count) : 0);
}

void
fleet_stats(const struct fleet *f, struct fleet_stats *out)
{
	struct redisconn_stats cs = {0};

	*out = f->stats;
	out->up = redisconn_up(f->server);
	out->has_replica = f->replica != NULL;
	out->replica_up = redisconn_up(f->replica);
	redisconn_add_stats(f->server, &cs);
	redisconn_add_stats(f->replica, &cs);
	out->commands = cs.commands;
	out->timeouts = cs.timeouts;
	out->outages = cs.outages;
	out->rtt = cs.rtt;
}
