/* statuspage - the status page and its JSON; see statuspage.h. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"
#include "report/statuspage.h"

static const struct {
	unsigned bit;
	const char *name;
} troubles[] = {	/* most serious first: the page lists them so */
	{STATUSPAGE_MISMATCH, "mismatch"},
	{STATUSPAGE_DEFERRED, "deferred"},
	{STATUSPAGE_TEMP, "temp"},
	{STATUSPAGE_ALERT, "alert"},
	{STATUSPAGE_PROPOSED, "proposed"},
	{STATUSPAGE_EXCEPTION, "exception"},
};
#define NTROUBLES (sizeof(troubles) / sizeof(troubles[0]))

const char *
statuspage_trouble_name(unsigned bit)
{
	for (size_t i = 0; i < NTROUBLES; i++)
		if (troubles[i].bit == bit)
			return troubles[i].name;
	return "?";
}

void
statuspage_init(struct statuspage *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->exceptions_file = "";
	sp->trust = "unverified";
	sp->version = "";
}

static void
host_free(struct statuspage_host *h)
{
	free(h->host);
	free(h->address);
}

void
statuspage_free(struct statuspage *sp)
{
	for (size_t i = 0; i < sp->nrows; i++) {
		struct statuspage_row *r = &sp->rows[i];
		for (size_t k = 0; k < r->nhosts; k++)
			host_free(&r->hosts[k]);
		free(r->hosts);
		free(r->dest);
		free(r->reply);
		free(r->reason);
		free(r->alert_kind);
		free(r->exception);
	}
	free(sp->rows);
	sp->rows = NULL;
	sp->nrows = sp->cap = 0;
}

int
statuspage_set(char **field, const char *s)
{
	char *copy = NULL;

	if (s && !(copy = strdup(s)))
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

struct statuspage_row *
statuspage_add_row(struct statuspage *sp, const char *dest)
{
	if (sp->nrows >= STATUSPAGE_MAX_ROWS) {
		sp->more++;
		return NULL;
	}
	if (sp->nrows == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct statuspage_row *rows = realloc(sp->rows, cap * sizeof(*rows));
		if (!rows)
			return NULL;
		sp->rows = rows;
		sp->cap = cap;
	}
	struct statuspage_row *r = &sp->rows[sp->nrows];
	memset(r, 0, sizeof(*r));
	if (!(r->dest = strdup(dest)))
		return NULL;
	sp->nrows++;
	return r;
}

int
statuspage_add_host(struct statuspage_row *row, const char *host, const char *address, unsigned port,
    enum probe_class class, int64_t probed_at)
{
	struct statuspage_host h = {.port = port, .class = class, .probed_at = probed_at};

	if (!(h.host = strdup(host ? host : "")) || !(h.address = strdup(address ? address : ""))) {
		host_free(&h);
		return -1;
	}
	if (row->nhosts == STATUSPAGE_MAX_HOSTS) {
		size_t oldest = 0;
		for (size_t k = 1; k < row->nhosts; k++)
			if (row->hosts[k].probed_at < row->hosts[oldest].probed_at)
				oldest = k;
		if (row->hosts[oldest].probed_at > probed_at) {
			host_free(&h);
			return 0;
		}
		host_free(&row->hosts[oldest]);
		row->hosts[oldest] = h;
		return 0;
	}
	struct statuspage_host *hosts = realloc(row->hosts, (row->nhosts + 1) * sizeof(*hosts));
	if (!hosts) {
		host_free(&h);
		return -1;
	}
	row->hosts = hosts;
	row->hosts[row->nhosts++] = h;
	return 0;
}

unsigned
statuspage_trouble(const struct statuspage *sp, const struct statuspage_row *row)
{
	unsigned t = 0;

	for (size_t k = 0; k < row->nhosts; k++)
		if (row->hosts[k].class == PROBE_DANE_MISMATCH)
			t |= STATUSPAGE_MISMATCH;
	if (row->has_log && row->run_deferred_tls > 0)
		t |= STATUSPAGE_DEFERRED;
	if (row->answer.result == POLICY_TEMP)
		t |= STATUSPAGE_TEMP;
	if (row->alert_kind && sp->now - row->alert_at < STATUSPAGE_ALERT_RECENT_S)
		t |= STATUSPAGE_ALERT;
	if (row->proposed)
		t |= STATUSPAGE_PROPOSED;
	if (row->exception)
		t |= STATUSPAGE_EXCEPTION;
	return t;
}

static int
row_order(const void *a, const void *b)
{
	const struct statuspage_row *x = a, *y = b;

	if (x->trouble != y->trouble)
		return x->trouble > y->trouble ? -1 : 1;
	return strcmp(x->dest, y->dest);
}

void
statuspage_sort(struct statuspage *sp)
{
	for (size_t i = 0; i < sp->nrows; i++)
		sp->rows[i].trouble = statuspage_trouble(sp, &sp->rows[i]);
	if (sp->nrows > 1)
		qsort(sp->rows, sp->nrows, sizeof(sp->rows[0]), row_order);
}

/* What Postfix was told, in a word: the level or policy, else the
 * result ("notfound", "temp"). */
static const char *
row_reply(const struct statuspage_row *r)
{
	if (r->reply)
		return r->reply;
	return policy_result_name(r->answer.result);
}

/* JSON */

static void
json_row(struct jsonw *j, const struct statuspage_row *r)
{
	jsonw_object(j, NULL);
	jsonw_string(j, "dest", r->dest);
	jsonw_array(j, "trouble");
	for (size_t i = 0; i < NTROUBLES; i++)
		if (r->trouble & troubles[i].bit)
			jsonw_string(j, NULL, troubles[i].name);
	jsonw_array_end(j);
	jsonw_string(j, "result", policy_result_name(r->answer.result));
	jsonw_string(j, "reply", row_reply(r));
	jsonw_string(j, "rule", policy_rule_name(r->answer.rule));
	jsonw_bool(j, "bogus", r->answer.bogus);
	jsonw_string(j, "reason", r->reason);
	jsonw_uint(j, "age_s", r->age_s);
	jsonw_uint(j, "asked_s", r->asked_s);
	jsonw_array(j, "probes");
	for (size_t k = 0; k < r->nhosts; k++) {
		const struct statuspage_host *h = &r->hosts[k];
		jsonw_object(j, NULL);
		jsonw_string(j, "host", h->host);
		jsonw_string(j, "address", h->address);
		jsonw_uint(j, "port", h->port);
		jsonw_string(j, "class", probe_class_name(h->class));
		jsonw_int(j, "probed_at", h->probed_at);
		jsonw_object_end(j);
	}
	jsonw_array_end(j);
	if (r->has_log) {
		jsonw_object(j, "maillog");
		jsonw_uint(j, "verified", r->verified);
		jsonw_uint(j, "sent", r->sent);
		jsonw_uint(j, "deferred", r->deferred);
		jsonw_uint(j, "deferred_tls", r->deferred_tls);
		jsonw_uint(j, "deferred_tls_since_sent", r->run_deferred_tls);
		jsonw_int(j, "last_seen", r->log_last_seen);
		jsonw_object_end(j);
	} else {
		jsonw_null(j, "maillog");
	}
	if (r->alert_kind) {
		jsonw_object(j, "alert");
		jsonw_string(j, "kind", r->alert_kind);
		jsonw_int(j, "at", r->alert_at);
		jsonw_object_end(j);
	} else {
		jsonw_null(j, "alert");
	}
	if (r->exception) {
		jsonw_object(j, "exception");
		jsonw_string(j, "policy", r->exception);
		jsonw_bool(j, "automatic", r->exception_auto);
		jsonw_object_end(j);
	} else {
		jsonw_null(j, "exception");
	}
	jsonw_bool(j, "proposed", r->proposed);
	jsonw_object_end(j);
}

int
statuspage_json(const struct statuspage *sp, struct buf *out)
{
	struct jsonw j;

	jsonw_init(&j, out);
	jsonw_object(&j, NULL);
	jsonw_string(&j, "version", sp->version);
	jsonw_int(&j, "now", sp->now);
	jsonw_uint(&j, "uptime_s", sp->uptime_s);
	jsonw_object(&j, "trust_check");
	jsonw_string(&j, "state", sp->trust);
	jsonw_string(&j, "reason", sp->trust_reason);
	jsonw_object_end(&j);
	jsonw_object(&j, "exceptions");
	jsonw_string(&j, "file", sp->exceptions_file);
	jsonw_uint(&j, "entries", sp->exceptions);
	jsonw_string(&j, "errors", sp->exceptions_errors);
	jsonw_object_end(&j);
	jsonw_object(&j, "answers_last_hour");
	jsonw_uint(&j, "minutes", sp->hour_minutes);
	jsonw_uint(&j, "ok", sp->hour_ok);
	jsonw_uint(&j, "notfound", sp->hour_notfound);
	jsonw_uint(&j, "temp", sp->hour_temp);
	jsonw_uint(&j, "perm", sp->hour_perm);
	jsonw_object_end(&j);
	jsonw_bool(&j, "maillog", sp->maillog);
	jsonw_bool(&j, "probes", sp->probes);
	jsonw_uint(&j, "more", sp->more);
	jsonw_array(&j, "destinations");
	for (size_t i = 0; i < sp->nrows; i++)
		json_row(&j, &sp->rows[i]);
	jsonw_array_end(&j);
	jsonw_object_end(&j);
	if (jsonw_done(&j) < 0)
		return -1;
	return buf_puts(out, "\n");
}

/* HTML */

/* The page's writer: the first failure to grow the buffer is kept, and
 * the page is then reported incomplete. */
struct html {
	struct buf *b;
	int rc;
};

static void
ha(struct html *h, const char *s, size_t n)
{
	if (buf_append(h->b, s, n) < 0)
		h->rc = -1;
}

static void
hp(struct html *h, const char *s)
{
	ha(h, s, strlen(s));
}

static void hf(struct html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
hf(struct html *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (buf_vprintf(h->b, fmt, ap) < 0)
		h->rc = -1;
	va_end(ap);
}

/* Text and attribute values alike: the five characters that can end
 * either, and control bytes shown as U+FFFD so that nothing a server sent
 * can hide in the page; but for newlines where lines are kept (a <pre>
 * of the daemon's own messages, one per line). */
static void
esc_lines(struct html *b, const char *s, bool keep_newlines)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' && keep_newlines) {
			ha(b, s, 1);
			continue;
		}
		switch (c) {
		case '&': hp(b, "&amp;"); break;
		case '<': hp(b, "&lt;"); break;
		case '>': hp(b, "&gt;"); break;
		case '"': hp(b, "&quot;"); break;
		case '\'': hp(b, "&#39;"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				hp(b, "&#xfffd;");
			else
				ha(b, s, 1);
		}
	}
}

static void
esc(struct html *b, const char *s)
{
	esc_lines(b, s, false);
}

/* "tlspolicy explain 'DEST'", quoted for a shell, then escaped. */
static void
esc_shell(struct html *b, const char *dest)
{
	struct buf cmd;

	buf_init(&cmd);
	buf_puts(&cmd, "tlspolicy explain '");
	for (const char *p = dest; *p; p++)
		if (*p == '\'' ? buf_puts(&cmd, "'\\''") < 0 : buf_putc(&cmd, *p) < 0)
			b->rc = -1;
	if (buf_puts(&cmd, "'") < 0 || buf_terminate(&cmd) < 0)
		b->rc = -1;
	esc(b, buf_ptr(&cmd));
	buf_free(&cmd);
}

/* A duration as people read it: "42 s", "7 min", "3 h", "2 d". */
static void
duration(struct html *b, uint64_t s)
{
	if (s < 120)
		hf(b, "%llu s", (unsigned long long)s);
	else if (s < 7200)
		hf(b, "%llu min", (unsigned long long)(s / 60));
	else if (s < 172800)
		hf(b, "%llu h", (unsigned long long)(s / 3600));
	else
		hf(b, "%llu d", (unsigned long long)(s / 86400));
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n<title>tlspolicyd status</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}\n"
    "h1{font-size:1.3em}table{border-collapse:collapse;width:100%}\n"
    "th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}\n"
    "th{background:#f3f3f3;cursor:pointer;user-select:none}\n"
    "tr.trouble td:first-child{border-left:4px solid #c33}\n"
    ".t{display:inline-block;border-radius:3px;padding:0 4px;margin:1px;font-size:12px;color:#fff;background:#888}\n"
    ".t-mismatch,.t-deferred,.t-temp{background:#c33}.t-alert{background:#d80}\n"
    ".t-proposed,.t-exception{background:#68a}\n"
    ".c-dane-verified{color:#070}.c-dane-mismatch{color:#c33;font-weight:bold}\n"
    "td.reply,td.rule,td.dest,code{white-space:nowrap}\n"
    "code{font-size:12px;background:#f6f6f6;padding:0 2px}dl{display:grid;grid-template-columns:max-content auto;"
    "gap:2px 12px}dt{font-weight:bold}dd{margin:0}pre{white-space:pre-wrap;color:#c33}\n"
    "</style></head><body>\n";

/* Sorting by a column (click its head; again to reverse) and filtering by
 * text. The rows' own text is all it reads: no data arrives any other
 * way. Its last act marks the body (data-script="ready"), so that a test
 * can tell it ran under the page's Content-Security-Policy. */
static const char page_script[] =
    "<script>\n"
    "(function(){\n"
    "var t=document.getElementById('dests'),b=t.tBodies[0],f=document.getElementById('filter'),dir={};\n"
    "f.addEventListener('input',function(){var q=f.value.toLowerCase();\n"
    " Array.prototype.forEach.call(b.rows,function(r){r.hidden=q!==''&&r.textContent.toLowerCase().indexOf(q)<0;});});\n"
    "Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){th.addEventListener('click',function(){\n"
    " var d=dir[i]=-(dir[i]||-1),rows=Array.prototype.slice.call(b.rows);\n"
    " rows.sort(function(x,y){var a=x.cells[i].getAttribute('data-key')||x.cells[i].textContent,\n"
    "  c=y.cells[i].getAttribute('data-key')||y.cells[i].textContent,na=Number(a),nc=Number(c);\n"
    "  if(a!==''&&c!==''&&!isNaN(na)&&!isNaN(nc))return d*(na-nc);return d*a.localeCompare(c);});\n"
    " rows.forEach(function(r){b.appendChild(r);});});});\n"
    "document.body.setAttribute('data-script','ready');\n"
    "})();\n</script>\n";

static void
html_row(struct html *b, const struct statuspage *sp, const struct statuspage_row *r)
{
	hp(b, "<tr class=\"");
	hp(b, r->trouble ? "trouble" : "fine");
	hp(b, "\" data-dest=\"");
	esc(b, r->dest);
	hf(b, "\"><td data-key=\"%u\">", r->trouble);
	for (size_t i = 0; i < NTROUBLES; i++)
		if (r->trouble & troubles[i].bit)
			hf(b, "<span class=\"t t-%s\">%s</span>", troubles[i].name, troubles[i].name);
	hp(b, "</td><td class=\"dest\">");
	esc(b, r->dest);
	hp(b, "</td><td class=\"reply\">");
	esc(b, row_reply(r));
	if (r->answer.bogus)
		hp(b, " (bogus)");
	hp(b, "</td><td class=\"rule\" title=\"");
	esc(b, r->reason);
	hp(b, "\">");
	hp(b, policy_rule_name(r->answer.rule));
	hf(b, "</td><td data-key=\"%llu\">", (unsigned long long)r->age_s);
	duration(b, r->age_s);
	hp(b, "</td><td class=\"probes\">");
	for (size_t k = 0; k < r->nhosts; k++) {
		const struct statuspage_host *h = &r->hosts[k];
		if (k)
			hp(b, "<br>");
		esc(b, h->host);
		hp(b, "[");
		esc(b, h->address);
		hf(b, "]: <span class=\"c-%s\">%s</span>", probe_class_name(h->class),
		    probe_class_name(h->class));
	}
	hp(b, "</td><td class=\"log\">");
	if (r->has_log)
		hf(b, "%llu Verified, %llu sent, %llu deferred (%llu TLS; %llu since sent)",
		    (unsigned long long)r->verified, (unsigned long long)r->sent, (unsigned long long)r->deferred,
		    (unsigned long long)r->deferred_tls, (unsigned long long)r->run_deferred_tls);
	hp(b, "</td><td class=\"alert\">");
	if (r->alert_kind) {
		esc(b, r->alert_kind);
		hp(b, ", ");
		duration(b, sp->now > r->alert_at ? (uint64_t)(sp->now - r->alert_at) : 0);
		hp(b, " ago");
	}
	hp(b, "</td><td class=\"exception\">");
	if (r->exception) {
		esc(b, r->exception);
		hp(b, r->exception_auto ? " (applied proposal)" : " (file)");
	}
	if (r->proposed)
		hp(b, r->exception ? "; proposed" : "proposed");
	/* Quoted for a shell: the destination is a canonical next hop, but a
	 * person copies this line, so no quote of it may end the word. */
	hp(b, "</td><td class=\"explain\"><code>");
	esc_shell(b, r->dest);
	hp(b, "</code></td></tr>\n");
}

int
statuspage_html(const struct statuspage *sp, struct buf *out)
{
	struct html html = {out, 0}, *b = &html;

	hp(b, page_head);
	hp(b, "<h1>tlspolicyd ");
	esc(b, sp->version);
	hp(b, "</h1>\n<dl>\n<dt>Up for</dt><dd id=\"uptime\">");
	duration(b, sp->uptime_s);
	hp(b, "</dd>\n<dt>Resolver trust check</dt><dd id=\"trust\">");
	esc(b, sp->trust);
	if (sp->trust_reason) {
		hp(b, ": ");
		esc(b, sp->trust_reason);
	}
	hp(b, "</dd>\n<dt>Exceptions</dt><dd id=\"exceptions\">");
	if (*sp->exceptions_file) {
		hf(b, "%zu in force from ", sp->exceptions);
		esc(b, sp->exceptions_file);
	} else {
		hf(b, "no exceptions_file (%zu in force)", sp->exceptions);
	}
	if (sp->exceptions_errors) {
		hp(b, "; its last load failed, the previous list stays:<pre>");
		esc_lines(b, sp->exceptions_errors, true);
		hp(b, "</pre>");
	}
	if (sp->hour_minutes)
		hf(b, "</dd>\n<dt>Answers, last %u min</dt>", sp->hour_minutes);
	else
		hp(b, "</dd>\n<dt>Answers, this minute</dt>");
	hf(b, "<dd id=\"hour\">%llu ok, %llu notfound, %llu temp, "
	    "%llu perm</dd>\n", (unsigned long long)sp->hour_ok,
	    (unsigned long long)sp->hour_notfound, (unsigned long long)sp->hour_temp,
	    (unsigned long long)sp->hour_perm);
	hf(b, "<dt>Watching</dt><dd>%s, %s</dd>\n</dl>\n",
	    sp->maillog ? "Postfix's log" : "no log (maillog_file empty)",
	    sp->probes ? "probes on" : "probes off");
	hf(b, "<p>%zu destinations asked for recently, those in trouble first", sp->nrows);
	if (sp->more)
		hf(b, " (%zu more cached, not shown)", sp->more);
	hp(b, ". Same data: <a href=\"status.json\">status.json</a>. "
	    "The detail of one: the command in its last column.</p>\n"
	    "<p><input id=\"filter\" type=\"search\" placeholder=\"filter\" size=\"40\"></p>\n"
	    "<table id=\"dests\"><thead><tr><th>Trouble</th><th>Destination</th><th>Answer</th><th>Rule</th>"
	    "<th>Age</th><th>Probes</th><th>Postfix log</th><th>Alert</th><th>Exception</th><th>Detail</th></tr>"
	    "</thead><tbody>\n");
	for (size_t i = 0; i < sp->nrows; i++)
		html_row(b, sp, &sp->rows[i]);
	hp(b, "</tbody></table>\n");
	hp(b, page_script);
	hp(b, "</body></html>\n");
	return html.rc;
}

/* The ring of per-minute samples */

void
statuspage_ring_note(struct statuspage_ring *r, uint64_t minute, const uint64_t totals[STATUSPAGE_RESULTS])
{
	size_t i = (size_t)(minute % STATUSPAGE_RING);

	r->at[i].used = true;
	r->at[i].minute = minute;
	memcpy(r->at[i].totals, totals, sizeof(r->at[i].totals));
}

unsigned
statuspage_ring_hour(const struct statuspage_ring *r, uint64_t minute, const uint64_t totals[STATUSPAGE_RESULTS],
    uint64_t out[STATUSPAGE_RESULTS])
{
	uint64_t from = minute >= 60 ? minute - 60 : 0;
	int best = -1;

	for (int i = 0; i < STATUSPAGE_RING; i++) {
		if (!r->at[i].used || r->at[i].minute < from || r->at[i].minute > minute)
			continue;
		if (best < 0 || r->at[i].minute < r->at[best].minute)
			best = i;
	}
	for (int k = 0; k < STATUSPAGE_RESULTS; k++) {
		uint64_t then = best >= 0 ? r->at[best].totals[k] : 0;
		out[k] = totals[k] >= then ? totals[k] - then : 0;
	}
	return best >= 0 ? (unsigned)(minute - r->at[best].minute) : 0;
}
