/*
 * adcheck - does the resolver Postfix uses validate DNSSEC? Postfix does
 * not validate itself: at dane and dane-only it trusts the AD bit of the
 * resolver in /etc/resolv.conf. If that resolver does not validate, every
 * destination looks unsigned to Postfix and its own DANE is silently off,
 * whatever this daemon answers. So the daemon asks that resolver, now and
 * then, for a name that is signed, with the AD bit set in the query (RFC
 * 6840 section 5.7), and checks that the answer comes back with AD.
 *
 * The query is one UDP datagram to the first "nameserver" of resolv.conf,
 * port 53, answered within the time limit or not at all; the wire format
 * is built and read here (it is a dozen bytes each way).
 *
 * Ownership: adcheck_start() borrows the event base; the check frees
 * itself after calling done(), or when cancelled.
 */
#ifndef TLSPOLICY_ADCHECK_H
#define TLSPOLICY_ADCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/netaddr.h"

struct event_base;

struct adcheck_result {
	bool answered;
	bool ad;			/* the resolver vouched for the answer */
	int rcode;
	char error[160];		/* why there is no usable answer */
};

/* The first nameserver in a resolv.conf file; 0, or -1 with err. */
int adcheck_nameserver(const char *resolv_conf, struct netaddr *out, char *err, size_t errlen);

/* The query for name's SOA with RD and AD set; returns its length, or -1
 * when name is not a valid host name or size is too small. */
int adcheck_query(const char *name, uint16_t id, unsigned char *out, size_t size);
/* Reads an answer to query id; 0, or -1 when it is not one (error set). */
int adcheck_parse(const unsigned char *msg, size_t len, uint16_t id, struct adcheck_result *r);

struct adcheck;

struct adcheck *adcheck_start(struct event_base *base, const struct netaddr *server, const char *name,
    unsigned timeout_ms, void (*done)(void *arg, const struct adcheck_result *r), void *arg);
void adcheck_cancel(struct adcheck *c);

#endif
