/*
 * survey_cmd - the `tlspolicy survey` command (tlspolicy(1), SURVEY).
 * Exit status: 0 done, 2 trouble (usage, files, resolver), 130
 * interrupted (what was finished is written; a rerun goes on).
 */
#ifndef TLSPOLICYD_SURVEY_CMD_H
#define TLSPOLICYD_SURVEY_CMD_H

#include "config/config.h"

int cmd_survey(const struct config *cfg, int argc, char **argv);

#endif
