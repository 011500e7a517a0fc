/* adcheck - is Postfix's resolver validating; see adcheck.h. */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dns/adcheck.h"
#include "postfix/nexthop.h"

#define DNS_HEADER 12
#define FLAG_QR 0x80		/* byte 2 */
#define FLAG_RD 0x01		/* byte 2 */
#define FLAG_AD 0x20		/* byte 3 */
#define TYPE_SOA 6

int
adcheck_nameserver(const char *resolv_conf, struct netaddr *out, char *err, size_t errlen)
{
	FILE *f = fopen(resolv_conf, "r");
	char line[512];

	if (!f) {
		snprintf(err, errlen, "%s: %s", resolv_conf, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char word[32], addr[128];
		if (sscanf(line, "%31s %127s", word, addr) == 2 && strcmp(word, "nameserver") == 0) {
			/* A scoped IPv6 address (fe80::1%eth0) names no address here. */
			char *percent = strchr(addr, '%');
			if (percent)
				*percent = '\0';
			fclose(f);
			if (netaddr_parse(addr, out) < 0) {
				snprintf(err, errlen, "%s: nameserver %s is not an IP address", resolv_conf, addr);
				return -1;
			}
			return 0;
		}
	}
	fclose(f);
	snprintf(err, errlen, "%s: no nameserver line", resolv_conf);
	return -1;
}

int
adcheck_query(const char *name, uint16_t id, unsigned char *out, size_t size)
{
	size_t len = strlen(name), o = DNS_HEADER;

	if (len > 1 && name[len - 1] == '.')
		len--;
	bool root = len == 1 && name[0] == '.';
	if (!root && !nexthop_valid_hostname(name, len))
		return -1;
	if (size < DNS_HEADER + len + 2 + 4)
		return -1;
	memset(out, 0, DNS_HEADER);
	out[0] = (unsigned char)(id >> 8);
	out[1] = (unsigned char)id;
	out[2] = FLAG_RD;
	out[3] = FLAG_AD;	/* "tell me whether you validated it" */
	out[5] = 1;		/* one question */
	for (size_t i = 0; !root && i < len;) {
		size_t label = 0;
		while (i + label < len && name[i + label] != '.')
			label++;
		out[o++] = (unsigned char)label;
		memcpy(out + o, name + i, label);
		o += label;
		i += label + 1;
	}
	out[o++] = 0;
	out[o++] = 0;
	out[o++] = TYPE_SOA;
	out[o++] = 0;
	out[o++] = 1;		/* IN */
	return (int)o;
}

int
adcheck_parse(const unsigned char *msg, size_t len, uint16_t id, struct adcheck_result *r)
{
	memset(r, 0, sizeof(*r));
	if (len < DNS_HEADER || (uint16_t)(msg[0] << 8 | msg[1]) != id || !(msg[2] & FLAG_QR)) {
		snprintf(r->error, sizeof(r->error), "not an answer to our query");
		return -1;
	}
	r->answered = true;
	r->rcode = msg[3] & 0x0f;
	r->ad = (msg[3] & FLAG_AD) != 0;
	if (r->rcode != 0)
		snprintf(r->error, sizeof(r->error), "rcode %d (%s)", r->rcode,
		    r->rcode == 2 ? "SERVFAIL" : r->rcode == 3 ? "NXDOMAIN" : r->rcode == 5 ? "REFUSED" : "error");
	return 0;
}

struct adcheck {
	int fd;
	uint16_t id;
	struct event *ev;
	void (*done)(void *arg, const struct adcheck_result *r);
	void *arg;
};

void
adcheck_cancel(struct adcheck *c)
{
	if (!c)
		return;
	if (c->ev)
		event_free(c->ev);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void
finish(struct adcheck *c, const struct adcheck_result *r)
{
	void (*done)(void *, const struct adcheck_result *) = c->done;
	void *arg = c->arg;

	adcheck_cancel(c);
	done(arg, r);
}

static void
on_answer(evutil_socket_t fd, short what, void *arg)
{
	struct adcheck *c = arg;
	struct adcheck_result r = {0};
	unsigned char msg[4096];

	if (what & EV_TIMEOUT) {
		snprintf(r.error, sizeof(r.error), "no answer in time");
		finish(c, &r);
		return;
	}
	ssize_t n = recv(fd, msg, sizeof(msg), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		snprintf(r.error, sizeof(r.error), "%s", strerror(errno));
		finish(c, &r);
		return;
	}
	/* A stray datagram (wrong id) is ignored: the timeout still runs. */
	if (adcheck_parse(msg, (size_t)n, c->id, &r) == 0)
		finish(c, &r);
}

struct adcheck *
adcheck_start(struct event_base *base, const struct netaddr *server, const char *name, unsigned timeout_ms,
    void (*done)(void *arg, const struct adcheck_result *r), void *arg)
{
	struct adcheck *c = calloc(1, sizeof(*c));
	unsigned char query[NEXTHOP_NAME_MAX + 32];
	struct sockaddr_storage sa;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	if (!c)
		return NULL;
	c->fd = -1;
	c->done = done;
	c->arg = arg;
	if (getrandom(&c->id, sizeof(c->id), 0) != (ssize_t)sizeof(c->id))
		c->id = (uint16_t)(uintptr_t)c;
	int qlen = adcheck_query(name, c->id, query, sizeof(query));
	socklen_t salen = netaddr_sockaddr(server, 53, &sa);
	if (qlen < 0 || (c->fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, salen) < 0 || send(c->fd, query, (size_t)qlen, 0) != qlen ||
	    !(c->ev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_answer, c)) || event_add(c->ev, &tv) < 0) {
		adcheck_cancel(c);
		return NULL;
	}
	return c;
}
