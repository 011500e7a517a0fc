/*
 * selfcheck_cmd - the `tlspolicy selfcheck` command (tlspolicy(1),
 * SELFCHECK): domains of one's own resolved and every address of every MX
 * host probed from here, with the daemon's resolver and probe settings,
 * its zones and name servers asked (zonecheck.h), then checked
 * (lib/selfcheck/). Exit status: the worst over the domains,
 * 0 passed, 1 warned, 2 failed, 3 could not check (usage, configuration,
 * resolver, or a domain without MX hosts to check).
 */
#ifndef TLSPOLICYD_SELFCHECK_CMD_H
#define TLSPOLICYD_SELFCHECK_CMD_H

#include "config/config.h"

int cmd_selfcheck(const struct config *cfg, int argc, char **argv);

#endif
