/* probereport - probe results as text, JSON and log lines; see probereport.h. */
#include "autoconfig.h"

#include <string.h>

#include "util/jsonw.h"
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

int
probereport_json(const struct probe_target *t, const struct probe_result *r, struct jsonw *j)
{
	char addr[64];
	struct buf list;

	address_text(t, addr, sizeof(addr));
	jsonw_object(j, NULL);
	jsonw_string(j, "host", t->host);
	jsonw_string(j, "address", addr);
	jsonw_uint(j, "port", t->port);
	jsonw_string(j, "class", probe_class_name(r->class));
	jsonw_string(j, "postfix", probe_class_postfix_word(r->class));
	jsonw_string(j, "stage", probe_stage_name(r->stage));
	jsonw_string(j, "error", r->error[0] ? r->error : NULL);
	jsonw_string(j, "banner", r->banner);
	jsonw_bool(j, "starttls", r->starttls_offered);
	jsonw_string(j, "protocol", r->protocol[0] ? r->protocol : NULL);
	jsonw_string(j, "cipher", r->cipher[0] ? r->cipher : NULL);
	jsonw_array(j, "chain");
	for (size_t i = 0; i < r->ncerts; i++) {
		const struct probe_cert *c = &r->certs[i];
		jsonw_object(j, NULL);
		jsonw_string(j, "subject", c->subject);
		jsonw_string(j, "issuer", c->issuer);
		jsonw_string(j, "not_before", c->not_before);
		jsonw_string(j, "not_after", c->not_after);
		jsonw_string(j, "spki_sha256", c->spki_sha256);
		jsonw_string(j, "cert_sha256", c->cert_sha256);
		jsonw_object_end(j);
	}
	jsonw_array_end(j);
	jsonw_bool(j, "pkix", r->pkix_ok);
	jsonw_string(j, "pkix_error", r->pkix_error[0] ? r->pkix_error : NULL);
	jsonw_bool(j, "name_match", r->name_ok);
	buf_init(&list);
	probereport_tlsa_list(t, &list);
	buf_terminate(&list);
	jsonw_string(j, "tlsa", t->ntlsa ? buf_ptr(&list) : NULL);
	buf_free(&list);
	jsonw_uint(j, "tlsa_usable", r->tlsa_usable);
	jsonw_string(j, "dane_match", r->dane_match[0] ? r->dane_match : NULL);
	jsonw_int(j, "dane_depth", r->dane_depth);
	jsonw_uint(j, "duration_ms", r->duration_ms);
	return jsonw_object_end(j);
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
