/* commands - the control socket's commands; see commands.h. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "fleet/fleet.h"
#include "commands.h"
#include "exlist.h"
#include "util/kv.h"
#include "maillog.h"
#include "serve/controlproto.h"
#include "serve/mapreply.h"
#include "postfix/nexthop.h"

static bool
parse_dest(struct control_request *req, const char *argument, struct nexthop *nh, char *key, size_t size)
{
	const char *why;
	char msg[256];

	if (nexthop_parse(argument, strlen(argument), nh, &why) < 0) {
		snprintf(msg, sizeof(msg), "ERROR '%.80s': %s", argument, why);
		control_reply(req, msg);
		return false;
	}
	nexthop_format(nh, key, size);
	return true;
}

/* "OK dane-only", "TEMP <reason>": as the daemon answers Postfix. */
static void
answer_text(const struct config *cfg, const struct policymap_answer *a, struct buf *out)
{
	struct mapreply r = mapreply_of(&cfg->levels, a);

	mapreply_format(&r, true, out);
}

struct refresh {
	struct commands *cmd;
	struct control_request *req;
	struct policymap_waiter *waiter;
};

static void
refreshed(void *arg, const struct policymap_answer *a)
{
	struct refresh *r = arg;
	struct buf reply;

	buf_init(&reply);
	buf_puts(&reply, "OK resolved: ");
	answer_text(*r->cmd->cfg, a, &reply);
	buf_printf(&reply, "; rule %s; probes of its MX hosts started (see tlspolicy explain in a few seconds)",
	    policy_rule_name(a->answer.rule));
	control_reply(r->req, buf_terminate(&reply) == 0 ? buf_ptr(&reply) : "ERROR out of memory");
	buf_free(&reply);
	free(r);
}

static void
refresh(struct commands *cmd, struct control_request *req, const char *argument)
{
	struct nexthop nh;
	char key[NEXTHOP_NAME_MAX + 16];
	struct policymap_answer a;
	struct buf reply;

	if (!parse_dest(req, argument, &nh, key, sizeof(key)))
		return;
	policymap_purge(cmd->pm, &nh);
	probing_demand(cmd->probing, key);
	struct refresh *r = calloc(1, sizeof(*r));
	if (!r) {
		control_reply(req, "ERROR out of memory");
		return;
	}
	r->cmd = cmd;
	r->req = req;
	int rc = policymap_lookup(cmd->pm, &nh, &a, refreshed, r, &r->waiter);
	if (rc == POLICYMAP_PENDING)
		return;
	free(r);
	if (rc < 0) {
		control_reply(req, "ERROR out of memory");
		return;
	}
	buf_init(&reply);
	buf_puts(&reply, "OK ");
	answer_text(*cmd->cfg, &a, &reply);
	buf_printf(&reply, ": nothing to resolve or probe (%s)", policy_rule_name(a.answer.rule));
	control_reply(req, buf_terminate(&reply) == 0 ? buf_ptr(&reply) : "ERROR out of memory");
	buf_free(&reply);
}

static void
stats(struct commands *cmd, struct control_request *req)
{
	struct policymap_stats ps;
	struct buf out;

	policymap_stats(cmd->pm, &ps);
	buf_init(&out);
	buf_puts(&out, "OK\n");
	kv_uint(&out, "cache_entries", ps.entries);
	kv_uint(&out, "cache_hits", ps.hits);
	kv_uint(&out, "cache_misses", ps.misses);
	kv_uint(&out, "resolutions", ps.resolutions);
	kv_uint(&out, "resolutions_shared", ps.shared);
	kv_uint(&out, "resolutions_in_flight", ps.in_flight);
	kv_uint(&out, "stale_answers", ps.stale);
	buf_putc(&out, '\n');
	probing_stats(cmd->probing, &out);
	buf_putc(&out, '\n');
	fleet_format_stats(cmd->fleet, &out);
	buf_terminate(&out);
	control_reply(req, buf_ptr(&out));
	buf_free(&out);
}

/* A reply that waits for the fleet: this relay's part, then what Redis
 * said once it has answered (unreachable: this relay's part and a line
 * that says so). */
struct fleet_reply {
	struct control_request *req;
	struct buf out;
	const char *unreachable;
};

static struct fleet_reply *
fleet_reply_new(struct control_request *req, const char *unreachable)
{
	struct fleet_reply *fr = calloc(1, sizeof(*fr));

	if (!fr) {
		control_reply(req, "ERROR out of memory");
		return NULL;
	}
	fr->req = req;
	fr->unreachable = unreachable;
	buf_init(&fr->out);
	return fr;
}

/* Replies with what fr holds, and frees it. */
static void
fleet_reply_send(struct fleet_reply *fr)
{
	control_reply(fr->req, buf_terminate(&fr->out) == 0 ? buf_ptr(&fr->out) : "ERROR out of memory");
	buf_free(&fr->out);
	free(fr);
}

static void
on_fleet_part(void *arg, const char *text)
{
	struct fleet_reply *fr = arg;

	buf_puts(&fr->out, text ? text : fr->unreachable);
	fleet_reply_send(fr);
}

/* `exceptions --proposed`: this relay's proposals, then, with a fleet,
 * the other relays' (exshare.h). */
static void
proposed_command(struct commands *cmd, struct control_request *req)
{
	struct fleet_reply *fr = fleet_reply_new(req, "# the fleet's proposals: Redis did not answer\n");

	if (!fr)
		return;
	buf_puts(&fr->out, "OK\n");
	exlist_proposed(cmd->exlist, &fr->out);
	if (exlist_fleet_proposed(cmd->exlist, on_fleet_part, fr) == 0)
		return;
	fleet_reply_send(fr);
}

static void
maillog_command(struct commands *cmd, struct control_request *req, const char *argument)
{
	struct nexthop nh;
	char key[NEXTHOP_NAME_MAX + 16];
	struct fleet_reply *fr;

	if (argument[0] && !parse_dest(req, argument, &nh, key, sizeof(key)))
		return;
	if (!(fr = fleet_reply_new(req, "fleet=unreachable\n")))
		return;
	buf_puts(&fr->out, "OK");
	/* Postfix's log names recipient domains, so the counts are by domain. */
	maillog_report(cmd->maillog, argument[0] ? nh.name : NULL, &fr->out);
	if (argument[0] && maillog_fleet_view(cmd->maillog, nh.name, on_fleet_part, fr) == 0) {
		buf_putc(&fr->out, '\n');
		return;
	}
	fleet_reply_send(fr);
}

void
commands_handle(void *arg, struct control_request *req, const char *command, const char *argument)
{
	struct commands *cmd = arg;

	if (strcmp(command, "refresh") == 0) {
		refresh(cmd, req, argument);
	} else if (strcmp(command, "purge") == 0) {
		struct nexthop nh;
		char key[NEXTHOP_NAME_MAX + 16], reply[300];
		if (!parse_dest(req, argument, &nh, key, sizeof(key)))
			return;
		snprintf(reply, sizeof(reply), "OK %s: %s", key,
		    policymap_purge(cmd->pm, &nh) ? "cached answer forgotten" : "was not cached");
		control_reply(req, reply);
	} else if (strcmp(command, "stats") == 0) {
		stats(cmd, req);
	} else if (strcmp(command, "proposed") == 0) {
		proposed_command(cmd, req);
	} else if (strcmp(command, "maillog") == 0) {
		maillog_command(cmd, req, argument);
	} else {
		const char *why;
		char reply[200];
		controlproto_check(command, 0, &why);
		snprintf(reply, sizeof(reply), "ERROR %s", why);
		control_reply(req, reply);
	}
}
