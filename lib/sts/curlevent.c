/* curlevent - libcurl's multi interface on a libevent loop; see curlevent.h. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "util/list.h"
#include "sts/curlevent.h"

/* A socket curl asked to have watched. */
struct sock {
	struct curlevent *ce;
	struct list_node node;		/* on ce->socks */
	struct event *ev;
};

struct curlevent {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;		/* curl's one timer */
	curlevent_done *cb;
	void *arg;
	struct list socks;
	unsigned depth;			/* inside our event callbacks */
	bool dying;			/* freed from a done callback */
};

static void
destroy(struct curlevent *ce)
{
	struct list_node *n;

	if (ce->multi)
		curl_multi_cleanup(ce->multi);
	/* Sockets curl did not say it was done with. */
	while ((n = list_pop_front(&ce->socks))) {
		struct sock *k = LIST_ENTRY(n, struct sock, node);
		event_free(k->ev);
		free(k);
	}
	if (ce->timer)
		event_free(ce->timer);
	free(ce);
}

/* After curl_multi_socket_action(): the finished transfers, one callback
 * each, as long as the owner still wants them. */
static void
act(struct curlevent *ce, curl_socket_t fd, int action)
{
	CURLMsg *msg;
	int running, left;

	ce->depth++;
	curl_multi_socket_action(ce->multi, fd, action, &running);
	while (!ce->dying && (msg = curl_multi_info_read(ce->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			ce->cb(ce->arg, msg->easy_handle, msg->data.result);
	if (--ce->depth == 0 && ce->dying)
		destroy(ce);
}

static void
on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct sock *k = arg;

	act(k->ce, fd, (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0));
}

static void
on_timer_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	act(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: the events curl wants on one socket. */
static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct curlevent *ce = arg;
	struct sock *k = sockp;
	short events = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (k) {
			list_remove(&ce->socks, &k->node);
			event_free(k->ev);	/* also from inside its own callback */
			free(k);
		}
		return 0;
	}
	if (!k) {
		if (!(k = calloc(1, sizeof(*k))) || !(k->ev = event_new(ce->base, fd, events, on_socket_event, k))) {
			free(k);
			return -1;
		}
		k->ce = ce;
		list_push_back(&ce->socks, &k->node);
		if (curl_multi_assign(ce->multi, fd, k) != CURLM_OK)
			return -1;
	} else {
		event_del(k->ev);
		event_assign(k->ev, ce->base, fd, events, on_socket_event, k);
	}
	return event_add(k->ev, NULL);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means as soon as the loop
 * can, never from in here (curl forbids calling it back from a callback). */
static int
on_timeout(CURLM *multi, long ms, void *arg)
{
	struct curlevent *ce = arg;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	(void)multi;
	if (ms < 0)
		return event_del(ce->timer);
	return evtimer_add(ce->timer, &tv);
}

struct curlevent *
curlevent_create(struct event_base *base, curlevent_done *cb, void *arg, char *err, size_t errlen)
{
	struct curlevent *ce = calloc(1, sizeof(*ce));

	if (!ce) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ce->base = base;
	ce->cb = cb;
	ce->arg = arg;
	if (!(ce->multi = curl_multi_init()) || !(ce->timer = evtimer_new(base, on_timer_event, ce)) ||
	    curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce) != CURLM_OK ||
	    curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, on_timeout) != CURLM_OK ||
	    curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce) != CURLM_OK) {
		snprintf(err, errlen, "libcurl: cannot set up a multi handle (out of memory, or curl_global_init() not called)");
		destroy(ce);
		return NULL;
	}
	return ce;
}

int
curlevent_add(struct curlevent *ce, CURL *easy)
{
	return !ce->dying && curl_multi_add_handle(ce->multi, easy) == CURLM_OK ? 0 : -1;
}

void
curlevent_remove(struct curlevent *ce, CURL *easy)
{
	curl_multi_remove_handle(ce->multi, easy);
}

void
curlevent_free(struct curlevent *ce)
{
	if (!ce || ce->dying)
		return;
	ce->dying = true;
	if (ce->depth == 0)
		destroy(ce);
}
