/*
 * probebench - handshakes per second of tlspolicyd's probe pool (lib/prober)
 * against one server: N probes of HOST on PORT, at most C at once on W
 * worker threads, no rate or per-address limit. Each probe is a whole SMTP
 * session: banner, EHLO, STARTTLS, TLS handshake, certificate checks, QUIT.
 * The pool would share one probe among jobs for the same address, so probe
 * i goes to the IPv4 address ADDR + i: the server must listen on all of
 * them (a wildcard listener in the lab's namespace, where all of
 * 127.0.0.0/8 is this host).
 *
 *   probebench [-n N] [-c C] [-w W] [-C CAFILE] HOST ADDR PORT
 *
 * Prints one line: probes, seconds, probes/s, and the count of each class.
 * make bench runs it beside `openssl s_time -new` against the same Postfix
 * instance (implicit TLS on another port, as s_time has no STARTTLS).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/clock.h"
#include "probe/probe.h"
#include "probe/prober.h"

struct run {
	struct event_base *base;
	unsigned left;
	unsigned classes[PROBE_CLASS_COUNT];
};

static void
done(void *arg, const char *const *dests, size_t ndests, const struct probe_target *t,
    const struct probe_result *r)
{
	struct run *run = arg;

	run->classes[r->class]++;
	if (--run->left == 0)
		event_base_loopbreak(run->base);
}

int
main(int argc, char **argv)
{
	unsigned n = 1000, concurrency = 32, workers = 0;
	const char *ca = "";
	int opt;
	char err[256];

	while ((opt = getopt(argc, argv, "n:c:w:C:")) != -1) {
		switch (opt) {
		case 'n': n = (unsigned)atoi(optarg); break;
		case 'c': concurrency = (unsigned)atoi(optarg); break;
		case 'w': workers = (unsigned)atoi(optarg); break;
		case 'C': ca = optarg; break;
		default:
			fprintf(stderr, "usage: probebench [-n N] [-c C] [-w W] [-C CAFILE] HOST ADDR PORT\n");
			return 2;
		}
	}
	if (argc - optind != 3 || n == 0) {
		fprintf(stderr, "usage: probebench [-n N] [-c C] [-w W] [-C CAFILE] HOST ADDR PORT\n");
		return 2;
	}
	struct probe_target t = {.port = (unsigned)atoi(argv[optind + 2])};
	snprintf(t.host, sizeof(t.host), "%s", argv[optind]);
	if (netaddr_parse(argv[optind + 1], &t.address) < 0) {
		fprintf(stderr, "probebench: %s is not an IP address\n", argv[optind + 1]);
		return 2;
	}
	struct probe_env_settings es = {.ca_file = ca, .helo_name = "probebench.invalid",
	    .step_timeout_ms = 10000, .max_reply = PROBE_MAX_REPLY};
	struct probe_env *env = probe_env_new(&es, err, sizeof(err));
	struct run run = {.base = event_base_new(), .left = n};
	struct prober_settings ps = {.workers = workers, .concurrency = concurrency, .queue_max = n,
	    .rate = 1000000, .host_interval_ms = 0};
	struct prober *pr = env && run.base ? prober_create(run.base, env, &ps, done, &run, err, sizeof(err)) : NULL;
	if (!pr) {
		fprintf(stderr, "probebench: %s\n", err);
		return 1;
	}
	if (t.address.family != AF_INET) {
		fprintf(stderr, "probebench: ADDR must be IPv4\n");
		return 2;
	}
	uint64_t start = clock_monotonic_ms();
	char dest[32];
	for (unsigned i = 0; i < n; i++) {
		struct probe_target each = t;
		unsigned last = (unsigned)t.address.bytes[2] << 8 | t.address.bytes[3];
		last += i;
		each.address.bytes[2] = (unsigned char)(last >> 8);
		each.address.bytes[3] = (unsigned char)last;
		snprintf(dest, sizeof(dest), "bench%u", i);
		if (prober_submit(pr, dest, &each) != PROBER_QUEUED) {
			fprintf(stderr, "probebench: probe %u was not queued\n", i);
			return 1;
		}
	}
	event_base_dispatch(run.base);
	double secs = (double)(clock_monotonic_ms() - start) / 1000.0;
	printf("probes %u seconds %.2f rate %.1f/s", n, secs, n / secs);
	for (int c = 0; c < PROBE_CLASS_COUNT; c++)
		if (run.classes[c])
			printf(" %s %u", probe_class_name((enum probe_class)c), run.classes[c]);
	printf("\n");
	prober_free(pr);
	probe_env_free(env);
	event_base_free(run.base);
	return 0;
}
