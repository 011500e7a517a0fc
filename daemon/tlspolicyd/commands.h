/*
 * commands - what the control socket can be asked (see control.h):
 *
 *   purge DEST     forget the cached answer for DEST
 *   refresh DEST   forget it, resolve DEST again, and probe its MX hosts now
 *                  whatever probe_interval says; answers once resolved
 *   stats          counters of the answer cache and the probe pool
 *   proposed       the exceptions the daemon proposes, one line each
 *   maillog [DEST] what Postfix's log said about TLS: DEST's counts, or
 *                  the totals
 *
 * DEST is a next hop as Postfix writes it. Answers start with "OK" or
 * "ERROR <why>".
 */
#ifndef TLSPOLICYD_COMMANDS_H
#define TLSPOLICYD_COMMANDS_H

#include "control.h"
#include "serve/policymap.h"
#include "probing.h"

struct exlist;
struct maillog;
struct fleet;
struct commands {
	struct policymap *pm;
	struct probing *probing;
	struct exlist *exlist;
	struct maillog *maillog;
	struct fleet *fleet;			/* NULL: alone */
	const struct config *const *cfg;	/* the daemon's current snapshot */
};

void commands_handle(void *arg, struct control_request *req, const char *command, const char *argument);

#endif
