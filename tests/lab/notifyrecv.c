/*
 * notifyrecv - the service manager's end of sd_notify(3), for the lab.
 *
 *   notifyrecv PATH    bind a unix datagram socket at PATH (mode 0666, so
 *                      that a daemon that dropped its privileges may still
 *                      send) and print each datagram as one line: the
 *                      CLOCK_MONOTONIC time of its arrival in microseconds,
 *                      then its assignments, separated by spaces:
 *                      "8412345678 RELOADING=1 MONOTONIC_USEC=8412345001".
 *                      Runs until killed; PATH is removed on SIGTERM.
 *   notifyrecv --now   print CLOCK_MONOTONIC in microseconds, the clock
 *                      MONOTONIC_USEC= is read from, and exit
 *
 * C11 and POSIX only; not installed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct sigaction sa = {.sa_handler = on_signal};
	char msg[4096];
	int fd;

	if (argc == 2 && strcmp(argv[1], "--now") == 0) {
		printf("%llu\n", now_us());
		return 0;
	}
	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: notifyrecv PATH | --now\n");
		return 64;
	}
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	/* No SA_RESTART: a signal ends the blocking recv(). */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	unlink(sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(sun.sun_path, 0666) < 0) {
		fprintf(stderr, "notifyrecv: %s: %s\n", sun.sun_path, strerror(errno));
		return 1;
	}
	while (!stop) {
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notifyrecv: recv: %s\n", strerror(errno));
			break;
		}
		unsigned long long t = now_us();
		/* One line per datagram: its newlines (between assignments)
		 * become spaces, other control bytes '?'. */
		while (n > 0 && msg[n - 1] == '\n')
			n--;
		for (ssize_t i = 0; i < n; i++)
			if (msg[i] == '\n')
				msg[i] = ' ';
			else if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] == 0x7f)
				msg[i] = '?';
		msg[n] = '\0';
		printf("%llu %s\n", t, msg);
		fflush(stdout);
	}
	unlink(sun.sun_path);
	close(fd);
	return 0;
}
