/*
 * exshare - the exceptions proposed by the relays of a fleet (fleet.h,
 * FLEET_PROPOSAL), so that `tlspolicy exceptions --proposed` on any relay
 * lists what every relay proposes, with its evidence.
 *
 * One Redis hash holds them all, a field per destination and relay
 * ("DEST|RELAY"), each kept EXSHARE_LIFE_S from its proposal and removed
 * when the relay sees the destination pass DANE again.
 *
 * Another relay's proposal is shown, never applied: a relay applies only
 * what its own probes found and its own Postfix log corroborates
 * (exproposal.h), so a fleet's shared store can never turn DANE off for
 * a destination by itself.
 *
 * exshare_list() writes the others' proposals in the exception list's
 * syntax, each after a comment line with its relay and evidence:
 *   # proposed by relay r2 at 2026-12-05T10:00:00Z: applied=no
 *   #   deferrals=3 first=... last=...
 *   example.org may
 * A value whose destination is not a domain name, or is not the one its
 * field names, is left out and counted.
 *
 * Ownership: borrows the fleet, which outlives it; exshare_free()
 * cancels the listings in flight (their callbacks do not run).
 */
#ifndef TLSPOLICY_EXSHARE_H
#define TLSPOLICY_EXSHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "fleet/fleet.h"
#include "rules/exproposal.h"

#define EXSHARE_LIFE_S (7 * 86400)

struct exshare;

struct exshare *exshare_create(struct fleet *fleet);
void exshare_free(struct exshare *es);

/* This relay proposes an exception for dest (a domain), applied or not,
 * on this evidence from its log; now is Unix seconds. */
void exshare_propose(struct exshare *es, const char *dest, bool applied, const struct exproposal_evidence *ev,
    int64_t now);
/* This relay saw dest pass again: its proposal goes. */
void exshare_withdraw(struct exshare *es, const char *dest);

/* text: the lines above, or NULL when Redis could not say. */
typedef void exshare_listed(void *arg, const char *text);
/* -1 when Redis is not usable now (no callback). */
int exshare_list(struct exshare *es, exshare_listed *cb, void *arg);

uint64_t exshare_rejected(const struct exshare *es);

#endif
