/* surveyhtml - a survey summary as an HTML page; see surveyhtml.h.
 *
 * Each write is a statement of its own: the operands of | are evaluated in
 * no fixed order, and these all append to the same buffer.
 *
 * Charts are inline SVG drawn here: a bar per number, its length to scale
 * with the largest of its chart, at least one pixel when the number is
 * not 0; a provider's bar is stacked by class, each segment from the
 * running sum so that the segments add up to the bar. */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "survey/surveyfacts.h"
#include "survey/surveyhtml.h"

static const char *const class_colors[SURVEYCLASS_COUNT] = {
	[SURVEYCLASS_PLAINTEXT] = "#b71c1c", [SURVEYCLASS_TLS_FAILED] = "#e53935", [SURVEYCLASS_ANONYMOUS] = "#fb8c00",
	[SURVEYCLASS_UNTRUSTED] = "#fdd835", [SURVEYCLASS_TRUSTED] = "#9ccc65", [SURVEYCLASS_VERIFIED] = "#43a047",
	[SURVEYCLASS_DANE_VERIFIED] = "#1b5e20", [SURVEYCLASS_DANE_MISMATCH] = "#8e24aa",
	[SURVEYCLASS_UNREACHABLE] = "#616161", [SURVEYCLASS_REFUSED] = "#bdbdbd", [SURVEYCLASS_SKIPPED] = "#e0e0e0",
	[SURVEYCLASS_NONE] = "#9e9e9e",
};

static const char *
class_color(enum surveyclass c)
{
	return (unsigned)c < SURVEYCLASS_COUNT ? class_colors[c] : "#9e9e9e";
}

#define FACT_COLOR "#1565c0"
#define PROVIDER_COLOR "#1565c0"

/* Text or an attribute value: every character that could end either, or
 * start markup, as an entity. max: bytes shown (0: all), cut at a
 * character boundary with an ellipsis. */
static int
html_esc(struct buf *b, const char *str, size_t max)
{
	size_t n = strlen(str);
	bool cut = max && n > max;
	int rc = 0;

	if (cut) {
		n = max;
		while (n > 0 && ((unsigned char)str[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		switch (str[i]) {
		case '&': rc |= buf_puts(b, "&amp;"); break;
		case '<': rc |= buf_puts(b, "&lt;"); break;
		case '>': rc |= buf_puts(b, "&gt;"); break;
		case '"': rc |= buf_puts(b, "&quot;"); break;
		case '\'': rc |= buf_puts(b, "&#39;"); break;
		default: rc |= buf_putc(b, str[i]); break;
		}
	}
	if (cut)
		rc |= buf_puts(b, "\xe2\x80\xa6");
	return rc;
}

#define SVG_WIDTH 760
#define SVG_LABEL_X 232			/* labels end here */
#define SVG_BAR_X 240
#define SVG_BAR_W 380
#define SVG_ROW 24
#define SVG_BAR_H 16
#define SVG_PAD 8
#define SVG_NAME_MAX 30			/* bytes of a name shown as a label */

struct bar {
	char key[80];			/* the number's path in the JSON object */
	const char *label;		/* from the data or ours: escaped */
	const char *cls;		/* data-class, or NULL */
	const char *color;
	uint64_t count;
	const uint64_t *by_class;	/* stacked by domain class, or NULL */
};

static int
svg_chart(struct buf *b, const char *id, const char *title, const struct bar *bars, size_t n, uint64_t whole)
{
	size_t height = (n ? n : 1) * SVG_ROW + 2 * SVG_PAD;
	uint64_t max = 0;
	int rc = 0;
	char p[16];

	for (size_t i = 0; i < n; i++)
		max = bars[i].count > max ? bars[i].count : max;
	rc |= buf_printf(b, "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%zu\" viewBox=\"0 0 %d %zu\" role=\"img\" aria-label=\"", id, SVG_WIDTH, height, SVG_WIDTH, height);
	rc |= html_esc(b, title, 0);
	rc |= buf_puts(b, "\">\n<title>");
	rc |= html_esc(b, title, 0);
	rc |= buf_puts(b, "</title>\n");
	if (!n)
		rc |= buf_printf(b, "<text class=\"empty\" x=\"%d\" y=\"%d\">none</text>\n", SVG_BAR_X,
		    SVG_PAD + SVG_ROW / 2 + 5);
	for (size_t i = 0; i < n; i++) {
		const struct bar *bar = &bars[i];
		size_t y = SVG_PAD + i * SVG_ROW;
		unsigned w = max ? (unsigned)((double)bar->count * SVG_BAR_W / (double)max + 0.5) : 0;
		if (bar->count && !w)
			w = 1;
		rc |= buf_printf(b, "<g class=\"bar\" data-key=\"%s\" data-count=\"%" PRIu64 "\"", bar->key, bar->count);
		if (bar->cls)
			rc |= buf_printf(b, " data-class=\"%s\"", bar->cls);
		rc |= buf_printf(b, "><text class=\"label\" x=\"%d\" y=\"%zu\" text-anchor=\"end\">", SVG_LABEL_X,
		    y + SVG_BAR_H - 3);
		rc |= html_esc(b, bar->label, SVG_NAME_MAX);
		rc |= buf_puts(b, "</text>");
		if (bar->by_class) {
			/* Segments from the running sum, so that they add up to w. */
			uint64_t sum = 0;
			unsigned x0 = 0;
			for (size_t k = 0; k < SURVEYCLASS_DOMAIN_CLASSES; k++) {
				enum surveyclass c = surveyclass_domain_order[k];
				if (!bar->by_class[c])
					continue;
				sum += bar->by_class[c];
				unsigned x1 = bar->count ? (unsigned)((double)sum * w / (double)bar->count + 0.5) : 0;
				rc |= buf_printf(b, "<rect class=\"seg\" data-class=\"%s\" data-count=\"%" PRIu64 "\" x=\"%u\" "
				    "y=\"%zu\" width=\"%u\" height=\"%d\" fill=\"%s\"><title>%s: %" PRIu64 "</title></rect>",
				    surveyclass_name(c), bar->by_class[c], SVG_BAR_X + x0, y, x1 - x0, SVG_BAR_H,
				    class_color(c), surveyclass_label(c), bar->by_class[c]);
				x0 = x1;
			}
		} else {
			rc |= buf_printf(b, "<rect x=\"%d\" y=\"%zu\" width=\"%u\" height=\"%d\" fill=\"%s\"/>", SVG_BAR_X, y,
			    w, SVG_BAR_H, bar->color);
		}
		rc |= buf_printf(b, "<text class=\"value\" x=\"%u\" y=\"%zu\">%" PRIu64 " (%s)</text></g>\n",
		    SVG_BAR_X + w + 6, y + SVG_BAR_H - 3, bar->count, surveyfacts_share(p, bar->count, whole));
	}
	return rc | buf_puts(b, "</svg>\n");
}

static int
html_cell(struct buf *b, const char *key, uint64_t n)
{
	return buf_printf(b, "<td class=\"num\" data-key=\"%s\" data-count=\"%" PRIu64 "\">%" PRIu64 "</td>", key, n, n);
}

static int
html_swatch(struct buf *b, enum surveyclass c)
{
	return buf_printf(b, "<span class=\"swatch\" style=\"background:%s\"></span>", class_color(c));
}

/* A table and a chart of counts by class. */
static int
html_classes(struct buf *b, const char *id, const char *key, const char *title, const char *unit,
    const uint64_t *counts, const enum surveyclass *cls, size_t n, uint64_t whole)
{
	struct bar bars[SURVEYCLASS_COUNT];
	int rc = 0;
	char p[16];

	rc |= buf_printf(b, "<table class=\"counts\" id=\"%s-table\"><thead><tr><th>class</th><th>%s</th>"
	    "<th>share</th></tr></thead><tbody>\n", id, unit);
	for (size_t i = 0; i < n; i++) {
		struct bar *bar = &bars[i];
		snprintf(bar->key, sizeof(bar->key), "%s.%s", key, surveyclass_name(cls[i]));
		bar->label = surveyclass_label(cls[i]);
		bar->cls = surveyclass_name(cls[i]);
		bar->color = class_color(cls[i]);
		bar->count = counts[cls[i]];
		bar->by_class = NULL;
		rc |= buf_puts(b, "<tr><th scope=\"row\">");
		rc |= html_swatch(b, cls[i]);
		rc |= buf_puts(b, bar->label);
		rc |= buf_puts(b, "</th>");
		rc |= html_cell(b, bar->key, bar->count);
		rc |= buf_printf(b, "<td class=\"pct\">%s</td></tr>\n", surveyfacts_share(p, bar->count, whole));
	}
	rc |= buf_puts(b, "</tbody></table>\n");
	return rc | svg_chart(b, id, title, bars, n, whole);
}

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	/* No scripts, no fetches: even injected markup could do nothing. */
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<meta name=\"generator\" content=\"" PACKAGE_NAME " " PACKAGE_VERSION "\">\n";

static const char html_style[] =
	"<style>\n"
	"body{font-family:system-ui,sans-serif;color:#212121;margin:2em auto;max-width:62em;padding:0 1em}\n"
	"h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #e0e0e0}\n"
	"table{border-collapse:collapse;margin:.5em 0 1em}\n"
	"th,td{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}\n"
	"td.num,td.pct{text-align:right;font-variant-numeric:tabular-nums}\n"
	"thead th{border-bottom:2px solid #bdbdbd;white-space:nowrap;vertical-align:bottom}\n"
	".wide{overflow-x:auto}\n"
	".meta,.note{color:#616161}\n"
	".swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;vertical-align:baseline}\n"
	"svg.chart{display:block;max-width:100%;height:auto;margin:.5em 0 1.5em}\n"
	"svg.chart text{font:13px system-ui,sans-serif;fill:#212121}\n"
	"dt{font-weight:600;margin-top:.4em}dd{margin-left:1.5em}\n"
	"</style>\n</head>\n<body>\n";

/* The title, and what the summary was made from. */
static int
write_head(const struct surveysum_result *r, struct buf *out, const char *title)
{
	char t1[32], t2[32];
	int rc = 0;

	rc |= buf_puts(out, html_head);
	rc |= buf_puts(out, "<title>");
	rc |= html_esc(out, title, 0);
	rc |= buf_puts(out, "</title>\n");
	rc |= buf_puts(out, html_style);
	rc |= buf_puts(out, "<h1>");
	rc |= html_esc(out, title, 0);
	rc |= buf_puts(out, "</h1>\n");
	rc |= buf_printf(out, "<p class=\"meta\">%" PRIu64 " domains from %" PRIu64 " lines (%" PRIu64
	    " rejected).", r->domains, r->lines, r->rejected);
	if (r->domains)
		rc |= buf_printf(out, " Records written from %s to %s.", surveyfacts_time(t1, r->time_first),
		    surveyfacts_time(t2, r->time_last));
	rc |= buf_puts(out, "</p>\n");
	return rc;
}

/* The domains' key facts: a table of all, a chart of the shares. */
static int
write_facts(const struct surveysum_result *r, struct buf *out)
{
	struct bar bars[SURVEYFACTS_COUNT];
	size_t n = 0;
	char p[16];
	int rc = 0;

	rc |= buf_puts(out, "<h2 id=\"domains\">Domains</h2>\n<table class=\"counts\" id=\"facts-table\"><thead><tr>"
	    "<th></th><th>count</th><th>of domains</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < SURVEYFACTS_COUNT; i++) {
		const struct surveyfacts_fact *f = &surveyfacts_table[i];
		uint64_t v = surveyfacts_value(r, f);
		rc |= buf_printf(out, "<tr><th scope=\"row\">%s</th>", f->label);
		rc |= html_cell(out, f->key, v);
		rc |= buf_printf(out, "<td class=\"pct\">%s</td></tr>\n", f->of_domains ? surveyfacts_share(p, v, r->domains) :
		    "");
		if (f->of_domains) {
			struct bar *bar = &bars[n++];
			snprintf(bar->key, sizeof(bar->key), "%s", f->key);
			bar->label = f->label;
			bar->cls = NULL;
			bar->color = FACT_COLOR;
			bar->count = v;
			bar->by_class = NULL;
		}
	}
	rc |= buf_puts(out, "</tbody></table>\n");
	rc |= svg_chart(out, "domain-facts", "Domains", bars, n, r->domains);
	return rc;
}

static int
write_classes(const struct surveysum_result *r, struct buf *out)
{
	int rc = 0;

	rc |= buf_puts(out, "<h2 id=\"domain-classes\">Domains by class</h2>\n<p class=\"note\">Each domain counts "
	    "once, with the class of the first address of its first MX host (in preference order) that was probed: "
	    "refused and skipped addresses do not count; <em>none</em> when there is no such address.</p>\n");
	rc |= html_classes(out, "by-domain-class", "by_domain_class", "Domains by class", "domains", r->by_domain,
	    surveyclass_domain_order, SURVEYCLASS_DOMAIN_CLASSES, r->domains);
	rc |= buf_printf(out, "<h2 id=\"mx-host-classes\">MX hosts by class</h2>\n<p class=\"note\">Each MX host name, "
	    "address and port counts once: %" PRIu64 " of them, for %" PRIu64 " host names.</p>\n", r->mx_addresses,
	    r->mx_hosts);
	rc |= html_classes(out, "by-mx-host-class", "by_mx_host_class", "MX hosts by class", "hosts", r->by_address,
	    surveyclass_address_order, SURVEYCLASS_ADDRESS_CLASSES, r->mx_addresses);
	return rc;
}

/* The providers, a column for each class one of them has, and their
 * domains by class as stacked bars. */
static int
write_providers(const struct surveysum_result *r, struct buf *out)
{
	struct bar bars[SURVEYSUM_TOP];
	bool used[SURVEYCLASS_COUNT] = {false};
	char p[16], key[80];
	int rc = 0;

	rc |= buf_printf(out, "<h2 id=\"providers\">Top MX providers</h2>\n<p class=\"note\">The %zu of %" PRIu64
	    " registrable domains of MX host names (by the Public Suffix List) that serve the most domains; each "
	    "domain counts once per provider, with its class.</p>\n", r->ntop, r->providers);
	for (size_t k = 0; k < r->ntop; k++)
		for (size_t c = 0; c < SURVEYCLASS_COUNT; c++)
			used[c] |= r->top[k].by_class[c] > 0;
	rc |= buf_puts(out, "<div class=\"wide\"><table class=\"counts\" id=\"top-providers-table\"><thead><tr>"
	    "<th>#</th><th>provider</th><th>domains</th><th>of domains</th>");
	for (size_t i = 0; i < SURVEYCLASS_DOMAIN_CLASSES; i++)
		if (used[surveyclass_domain_order[i]])
			rc |= buf_printf(out, "<th>%s</th>", surveyclass_label(surveyclass_domain_order[i]));
	rc |= buf_puts(out, "</tr></thead><tbody>\n");
	for (size_t k = 0; k < r->ntop; k++) {
		const struct surveysum_provider *pv = &r->top[k];
		struct bar *bar = &bars[k];
		snprintf(bar->key, sizeof(bar->key), "top_providers.%zu.domains", k);
		bar->label = pv->name;
		bar->cls = NULL;
		bar->color = PROVIDER_COLOR;
		bar->count = pv->domains;
		bar->by_class = pv->by_class;
		rc |= buf_printf(out, "<tr><td class=\"num\">%zu</td><th scope=\"row\" data-key=\"top_providers.%zu.name\">",
		    k + 1, k);
		rc |= html_esc(out, pv->name, 0);
		rc |= buf_puts(out, "</th>");
		rc |= html_cell(out, bar->key, pv->domains);
		rc |= buf_printf(out, "<td class=\"pct\">%s</td>", surveyfacts_share(p, pv->domains, r->domains));
		for (size_t i = 0; i < SURVEYCLASS_DOMAIN_CLASSES; i++) {
			if (!used[surveyclass_domain_order[i]])
				continue;
			snprintf(key, sizeof(key), "top_providers.%zu.by_class.%s", k, surveyclass_name(surveyclass_domain_order[i]));
			rc |= html_cell(out, key, pv->by_class[surveyclass_domain_order[i]]);
		}
		rc |= buf_puts(out, "</tr>\n");
	}
	rc |= buf_puts(out, "</tbody></table></div>\n<p class=\"legend\">");
	for (size_t i = 0; i < SURVEYCLASS_DOMAIN_CLASSES; i++) {
		enum surveyclass c = surveyclass_domain_order[i];
		if (used[c]) {
			rc |= html_swatch(out, c);
			rc |= buf_printf(out, "%s ", surveyclass_label(c));
		}
	}
	rc |= buf_puts(out, "</p>\n");
	rc |= svg_chart(out, "top-providers", "Top MX providers by domains", bars, r->ntop, r->domains);
	return rc;
}

/* The domains with a TLSA mismatch, and what every number means. */
static int
write_mismatch(const struct surveysum_result *r, struct buf *out)
{
	int rc = 0;

	rc |= buf_printf(out, "<h2 id=\"mismatch\">Domains with a TLSA mismatch</h2>\n<p class=\"note\">%" PRIu64
	    " domain%s%s: mail to %s fails where the sender enforces DANE.</p>\n<ul id=\"tlsa-mismatch-domains\">\n",
	    r->tlsa_mismatch, r->tlsa_mismatch == 1 ? "" : "s",
	    r->nmismatch_listed < r->tlsa_mismatch ? ", the first listed" : "", r->tlsa_mismatch == 1 ? "it" : "them");
	for (size_t k = 0; k < r->nmismatch_listed; k++) {
		rc |= buf_puts(out, "<li>");
		rc |= html_esc(out, r->mismatch[k], 0);
		rc |= buf_puts(out, "</li>\n");
	}
	rc |= buf_puts(out, "</ul>\n");
	return rc;
}

static int
write_definitions(struct buf *out)
{
	int rc = buf_puts(out, "<h2 id=\"definitions\">Definitions</h2>\n<dl>\n");

	for (size_t i = 0; i < SURVEYFACTS_COUNT; i++)
		rc |= buf_printf(out, "<dt>%s</dt><dd>%s</dd>\n", surveyfacts_table[i].label, surveyfacts_table[i].meaning);
	rc |= buf_puts(out, "<dt>classes</dt><dd>Verified, Trusted, Untrusted, Anonymous: as Postfix logs a TLS "
	    "connection; dane-verified: a usable TLSA record matched; dane-mismatch: usable TLSA records, none "
	    "matched; tls-failed: STARTTLS offered, the handshake failed; plaintext: no STARTTLS; unreachable: no "
	    "SMTP session; refused: a special-purpose address or one of the surveying host's own, not probed; "
	    "skipped: probes disabled, or past the address limit Postfix would stop at.</dd>\n</dl>\n");
	return rc;
}

int
surveyhtml_write(const struct surveysum_result *r, struct buf *out, const char *title)
{
	int rc = 0;

	if (!title || !*title)
		title = SURVEYHTML_DEFAULT_TITLE;
	rc |= write_head(r, out, title);
	rc |= write_facts(r, out);
	rc |= write_classes(r, out);
	rc |= write_providers(r, out);
	rc |= write_mismatch(r, out);
	rc |= write_definitions(out);
	rc |= buf_puts(out, "</body>\n</html>\n");
	return rc < 0 ? -1 : 0;
}
