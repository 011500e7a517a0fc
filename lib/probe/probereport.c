/* probereport - probe results as text, JSON and log lines; see probereport.h. */
#include "autoconfig.h"

#include <string.h>

#include "util/json.h"
#include "util/kv.h"
#include "probe/probereport.h"
#include "rules/tlsa.h"

int
probereport_tlsa_list(const struct probe_target *t, struct buf *out)
{
	for (size_t i = 0; i < t->ntlsa; i++) {
		const struct probe_tlsa *p = &t->tlsa[i];
		struct tlsa_record r = {p->usage, p->selector, p->mtype, p->data, p->len};
		if ((i && buf_puts(out, ", ") < 0) || tlsa_format(&r, out) < 0)
			return -1;
	}
	return 0;
}

static void
address_text(const struct probe_target *t, char *dst, size_t size)
{
	netaddr_format(&t->address, dst, size);
}

int
probereport_text(const struct probe_target *t, const struct probe_result *r, struct buf *out)
{
	char addr[64];

	address_text(t, addr, sizeof(addr));
	buf_printf(out, "== %s[%s]:%u", t->host, addr, t->port);
	if (t->ntlsa) {
		buf_puts(out, " TLSA ");
		probereport_tlsa_list(t, out);
	}
	buf_putc(out, '\n');
	buf_append(out, buf_ptr(&r->transcript), buf_size(&r->transcript));
	if (r->protocol[0])
		buf_printf(out, "TLS: %s with cipher %s\n", r->protocol, r->cipher);
	for (size_t i = 0; i < r->ncerts; i++) {
		const struct probe_cert *c = &r->certs[i];
		buf_printf(out, "certificate %zu: subject %s\n", i, c->subject);
		buf_printf(out, "    issuer %s\n", c->issuer);
		buf_printf(out, "    valid %s to %s\n", c->not_before, c->not_after);
		buf_printf(out, "    pkey sha256 %s\n", c->spki_sha256);
		buf_printf(out, "    cert sha256 %s\n", c->cert_sha256);
	}
	if (r->ncerts) {
		buf_printf(out, "PKIX: %s%s%s; name %s %s\n", r->pkix_ok ? "chain verified" : "chain not verified",
		    r->pkix_ok ? "" : ": ", r->pkix_error, t->host, r->name_ok ? "matches" : "does not match");
	}
	if (r->tlsa_usable && r->dane_depth >= 0)
		buf_printf(out, "DANE: matched %s at depth %d\n", r->dane_match, r->dane_depth);
	else if (r->tlsa_usable)
		buf_printf(out, "DANE: no matching TLSA record (%s)\n", r->dane_error);
	else if (t->ntlsa)
		buf_puts(out, "DANE: no TLSA record usable for SMTP\n");
	if (r->error[0])
		buf_printf(out, "error at %s: %s\n", probe_stage_name(r->stage), r->error);
	const char *word = probe_class_postfix_word(r->class);
	buf_printf(out, "class: %s", probe_class_name(r->class));
	if (word)
		buf_printf(out, " (Postfix would log: %s TLS connection established)", word);
	return buf_putc(out, '\n');
}

static void
json_field(struct buf *out, const char *key, const char *value)
{
	json_key(out, key, 0);
	json_str(out, value);
}

int
probereport_json(const struct probe_target *t, const struct probe_result *r, struct buf *out)
{
	char addr[64];

	address_text(t, addr, sizeof(addr));
	buf_putc(out, '{');
	json_key(out, "host", 1);
	json_str(out, t->host);
	json_field(out, "address", addr);
	json_key(out, "port", 0);
	buf_printf(out, "%u", t->port);
	json_field(out, "class", probe_class_name(r->class));
	json_field(out, "postfix", probe_class_postfix_word(r->class));
	json_field(out, "stage", probe_stage_name(r->stage));
	json_field(out, "error", r->error[0] ? r->error : NULL);
	json_field(out, "banner", r->banner);
	json_key(out, "starttls", 0);
	buf_puts(out, r->starttls_offered ? "true" : "false");
	json_field(out, "protocol", r->protocol[0] ? r->protocol : NULL);
	json_field(out, "cipher", r->cipher[0] ? r->cipher : NULL);
	json_key(out, "chain", 0);
	buf_putc(out, '[');
	for (size_t i = 0; i < r->ncerts; i++) {
		const struct probe_cert *c = &r->certs[i];
		buf_puts(out, i ? ",{" : "{");
		json_key(out, "subject", 1);
		json_str(out, c->subject);
		json_field(out, "issuer", c->issuer);
		json_field(out, "not_before", c->not_before);
		json_field(out, "not_after", c->not_after);
		json_field(out, "spki_sha256", c->spki_sha256);
		json_field(out, "cert_sha256", c->cert_sha256);
		buf_putc(out, '}');
	}
	buf_putc(out, ']');
	json_key(out, "pkix", 0);
	buf_puts(out, r->pkix_ok ? "true" : "false");
	json_field(out, "pkix_error", r->pkix_error[0] ? r->pkix_error : NULL);
	json_key(out, "name_match", 0);
	buf_puts(out, r->name_ok ? "true" : "false");
	struct buf list;
	buf_init(&list);
	probereport_tlsa_list(t, &list);
	buf_terminate(&list);
	json_field(out, "tlsa", t->ntlsa ? buf_ptr(&list) : NULL);
	buf_free(&list);
	json_key(out, "tlsa_usable", 0);
	buf_printf(out, "%zu", r->tlsa_usable);
	json_field(out, "dane_match", r->dane_match[0] ? r->dane_match : NULL);
	json_key(out, "dane_depth", 0);
	buf_printf(out, "%d", r->dane_depth);
	json_key(out, "duration_ms", 0);
	buf_printf(out, "%llu", (unsigned long long)r->duration_ms);
	return buf_putc(out, '}');
}

int
probereport_kv(const char *dest, const struct probe_target *t, const struct probe_result *r, struct buf *out)
{
	char addr[64];

	address_text(t, addr, sizeof(addr));
	kv_str(out, "event", "probe");
	kv_str(out, "dest", dest);
	kv_str(out, "host", t->host);
	kv_str(out, "addr", addr);
	kv_uint(out, "port", t->port);
	kv_str(out, "class", probe_class_name(r->class));
	if (r->protocol[0]) {
		kv_str(out, "protocol", r->protocol);
		kv_str(out, "cipher", r->cipher);
	}
	if (r->tlsa_usable)
		kv_str(out, "dane", r->dane_depth >= 0 ? r->dane_match : "no-match");
	if (r->ncerts)
		kv_str(out, "leaf_spki_sha256", r->certs[0].spki_sha256);
	if (r->error[0]) {
		kv_str(out, "stage", probe_stage_name(r->stage));
		kv_str(out, "error", r->error);
	}
	return kv_uint(out, "duration_ms", r->duration_ms);
}
