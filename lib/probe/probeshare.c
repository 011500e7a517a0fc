/* probeshare - a probe result as a fleet shares it; see probeshare.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "util/text.h"
#include "probe/probeshare.h"
#include "probe/probestate.h"

/* Host names compare without case (DNS); in names and payloads they are
 * written in lower case, so that every relay writes the same. */
static void
lower_host(char *dst, size_t size, const char *host)
{
	size_t i = 0;

	for (; host[i] && i + 1 < size; i++)
		dst[i] = host[i] >= 'A' && host[i] <= 'Z' ? (char)(host[i] - 'A' + 'a') : host[i];
	dst[i] = '\0';
}

int
probeshare_name(const struct probe_target *t, char *out, size_t len)
{
	char host[NEXTHOP_NAME_MAX + 1], addr[64];

	lower_host(host, sizeof(host), t->host);
	netaddr_format(&t->address, addr, sizeof(addr));
	int n = snprintf(out, len, "%s|%s|%u", host, addr, t->port);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
probeshare_encode(const struct probe_target *t, const struct probe_result *r, int64_t unix_s, struct buf *out)
{
	struct probestate_line l = {.address = t->address, .port = t->port};

	lower_host(l.host, sizeof(l.host), t->host);
	probestate_record_of(r, unix_s, &l.rec);
	return probestate_line_format(&l, out);
}

static bool
is_digest(const char *s)
{
	unsigned char bytes[32];

	return strlen(s) == 2 * sizeof(bytes) && text_unhex(bytes, s, sizeof(bytes)) == 0;
}

static bool
same_target(const struct probestate_line *l, const struct probe_target *t)
{
	char host[NEXTHOP_NAME_MAX + 1];

	lower_host(host, sizeof(host), t->host);
	return strcmp(l->host, host) == 0 && l->address.family == t->address.family &&
	    memcmp(l->address.bytes, t->address.bytes, sizeof(t->address.bytes)) == 0 && l->port == t->port;
}

int
probeshare_decode(const char *payload, size_t len, const struct probe_target *t, int64_t now,
    struct probe_result *r, int64_t *unix_s, const char **why)
{
	struct probestate_line l;

	memset(r, 0, sizeof(*r));
	buf_init(&r->transcript);
	*unix_s = 0;
	if (len == 0 || len > PROBESHARE_PAYLOAD_MAX || payload[len - 1] != '\n' ||
	    memchr(payload, '\n', len - 1) || memchr(payload, '\0', len)) {
		*why = "not one line";
		return -1;
	}
	if (probestate_line_parse(payload, len - 1, &l) < 0) {
		*why = "not a probe result";
		return -1;
	}
	if (l.dest[0] || l.has_tlsa) {
		*why = "a field a shared result has not";
		return -1;
	}
	if (!same_target(&l, t)) {
		*why = "for another target";
		return -1;
	}
	if (l.rec.leaf_spki[0] && !is_digest(l.rec.leaf_spki)) {
		*why = "not a SHA-256 digest";
		return -1;
	}
	if (l.rec.unix_s - PROBESHARE_CLOCK_SLACK_S > now) {
		*why = "probed in the future";
		return -1;
	}
	r->class = l.rec.class;
	_Static_assert(sizeof(r->error) >= sizeof(l.rec.detail), "a detail fits in error");
	memcpy(r->error, l.rec.detail, sizeof(l.rec.detail));
	if (l.rec.leaf_spki[0]) {
		memcpy(r->certs[0].spki_sha256, l.rec.leaf_spki, sizeof(r->certs[0].spki_sha256));
		r->ncerts = 1;
	}
	r->dane_depth = -1;
	*unix_s = l.rec.unix_s;
	return 0;
}
