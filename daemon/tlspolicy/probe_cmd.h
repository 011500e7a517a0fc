/*
 * probe_cmd - the `tlspolicy probe` and `tlspolicy tlsa` commands
 * (tlspolicy(1), PROBES). probe exits 0 when every probed host is as
 * secure as its DNS promises, 1 when one is not, 2 on trouble (usage,
 * configuration, resolver), 3 when DNS failed or nothing could be
 * probed; tlsa exits 0 with the record printed, 2 otherwise.
 */
#ifndef TLSPOLICYD_PROBE_CMD_H
#define TLSPOLICYD_PROBE_CMD_H

#include "config/config.h"

int cmd_probe(const struct config *cfg, int argc, char **argv);
int cmd_tlsa(const struct config *cfg, int argc, char **argv);

#endif
