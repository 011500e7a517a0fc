/*
 * test_exshare - proposed exceptions shared by two relays through a real
 * redis-server: the other relay's listed with its evidence, one's own
 * not twice, a withdrawn one gone, and values a relay would not write
 * (another destination than their field's, a destination that is no
 * domain, a relay name that would break the line) left out.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/log.h"
#include "watch/exshare.h"
#include "redislab.h"

#define NOW 1800000000

static struct redislab redis;
static struct event_base *base;
static struct log *logger;
static struct fleetvalue_key key;

static int64_t
wall(void *arg)
{
	return NOW;
}

struct listed {
	bool done;
	char text[4096];
};

static void
on_list(void *arg, const char *text)
{
	struct listed *l = arg;

	l->done = true;
	snprintf(l->text, sizeof(l->text), "%s", text ? text : "(unreachable)");
}

static struct listed
list(struct exshare *es)
{
	struct listed l = {0};

	assert_int_equal(exshare_list(es, on_list, &l), 0);
	assert_true(redislab_run_until(base, &l.done, 3000));
	return l;
}

/* Until the hash has n fields. */
static void
fields(long long n)
{
	bool there = false;

	for (int i = 0; i < 3000 && !there; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		redisReply *r = redislab_raw(&redis, NULL, "HLEN t:proposal:all");
		there = r->integer == n;
		freeReplyObject(r);
		if (!there)
			usleep(1000);
	}
	assert_true(there);
}

static void
forge(const char *field, const char *payload)
{
	char sealed_for[400];
	struct buf sealed;

	snprintf(sealed_for, sizeof(sealed_for), "t:proposal:all#%s", field);
	buf_init(&sealed);
	assert_int_equal(fleetvalue_seal(&key, sealed_for, NOW + 60, payload, strlen(payload), &sealed), 0);
	buf_terminate(&sealed);
	freeReplyObject(redislab_raw(&redis, NULL, "HSET t:proposal:all %s %s", field, buf_ptr(&sealed)));
	buf_free(&sealed);
}

static void
test_shared_proposals(void **state)
{
	if (redislab_missing())
		return;
	assert_true(redislab_init(&redis, "exshare"));
	redislab_start(&redis, NULL);
	struct fleet *f1 = redislab_fleet(&redis, base, logger, &key, "r1", wall, NULL);
	struct fleet *f2 = redislab_fleet(&redis, base, logger, &key, "r2", wall, NULL);
	struct exshare *e1 = exshare_create(f1), *e2 = exshare_create(f2);
	struct exproposal_evidence ev = {3, NOW - 7200, NOW - 60};

	exshare_propose(e1, "broken.example", false, &ev, NOW);
	fields(1);
	struct listed l = list(e2);
	assert_string_equal(l.text, "# proposed by relay r1 at 2027-01-15T08:00:00Z: applied=no deferrals=3 "
	    "first=1799992800 last=1799999940\nbroken.example may\n");
	/* Its own are listed by the relay already. */
	assert_string_equal(list(e1).text, "");

	/* Values no relay writes. */
	forge("other.example|r3", "dest=broken.example relay=r3 proposed=1 applied=no deferrals=0 first=0 last=0");
	forge("[192.0.2.1]|r4", "dest=[192.0.2.1] relay=r4 proposed=1 applied=no deferrals=0 first=0 last=0");
	forge("bad.example|r 5", "dest=bad.example relay=\"r 5\" proposed=1 applied=no deferrals=0 first=0 last=0");
	forge("ok.example|r6", "dest=ok.example relay=r6 proposed=1 applied=maybe deferrals=0 first=0 last=0");
	l = list(e2);
	assert_null(strstr(l.text, "other.example"));
	assert_null(strstr(l.text, "192.0.2.1"));
	assert_null(strstr(l.text, "r 5"));
	assert_null(strstr(l.text, "ok.example"));
	assert_int_equal(exshare_rejected(e2), 4);

	/* Withdrawn when r1 sees it pass. */
	freeReplyObject(redislab_raw(&redis, NULL, "DEL t:proposal:all"));
	exshare_propose(e1, "broken.example", true, &ev, NOW);
	fields(1);
	assert_non_null(strstr(list(e2).text, "applied=yes"));
	exshare_withdraw(e1, "broken.example");
	fields(0);
	assert_string_equal(list(e2).text, "");

	exshare_free(e1);
	exshare_free(e2);
	fleet_free(f1);
	fleet_free(f2);
}

static int
teardown(void **state)
{
	redislab_cleanup(&redis);
	return 0;
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_shared_proposals, teardown),
	};
	struct table t = {0};

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	logger = log_create_stderr(LOGL_WARNING);
	memset(key.secret, 'e', 40);
	key.len = 40;
	TABLE_TESTS(&t, tests);
	int rc = table_run(&t, "exshare");
	event_base_free(base);
	log_free(logger);
	return rc;
}
