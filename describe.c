// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * describe.c - a config said back in words: the delay lines by kind,
 * durations, delays, targets as --target took them, and names made fit
 * for a terminal.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "config.h"

const struct delay_line *const delay_lines[] = {
	&delay_line_netem, &delay_line_tick,
};
const size_t n_delay_lines = sizeof(delay_lines) / sizeof(delay_lines[0]);

const struct delay_line *line_of(unsigned int kind)
{
	size_t i;

	for (i = 0; i < n_delay_lines; i++)
		if (delay_lines[i]->kind == kind)
			return delay_lines[i];
	return NULL;
}

int has_replica(const struct hedge_config *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->n_targets; i++)
		if (cfg->targets[i].replica.port)
			return 1;
	return 0;
}

int has_tcp(const struct hedge_config *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->n_targets; i++)
		if (cfg->targets[i].primary.proto == HEDGE_PROTO_TCP)
			return 1;
	return 0;
}

int has_tcp_replica(const struct hedge_config *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->n_targets; i++)
		if (cfg->targets[i].primary.proto == HEDGE_PROTO_TCP &&
		    cfg->targets[i].replica.port)
			return 1;
	return 0;
}

void format_duration(char *buf, size_t size, uint64_t ns)
{
	if (ns % NS_PER_S == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ns / NS_PER_S));
	else if (ns % NS_PER_MS == 0)
		snprintf(buf, size, "%llums",
			 (unsigned long long)(ns / NS_PER_MS));
	else
		snprintf(buf, size, "%lluus",
			 (unsigned long long)(ns / NS_PER_US));
}

/* How `up` was told to delay: "10ms", or "p95 in 1ms..1s". */
void describe_delay(const struct hedge_config *cfg, char *buf,
			   size_t size)
{
	char min[24], max[24];

	if (!(cfg->flags & HEDGE_F_ADAPTIVE)) {
		format_duration(buf, size, cfg->delay_ns);
		return;
	}
	format_duration(min, sizeof(min), cfg->delay_min_ns);
	format_duration(max, sizeof(max), cfg->delay_max_ns);
	if (cfg->delay_pct % 100)
		snprintf(buf, size, "p%u.%u in %s..%s", cfg->delay_pct / 100,
			 cfg->delay_pct % 100 / 10, min, max);
	else
		snprintf(buf, size, "p%u in %s..%s", cfg->delay_pct / 100,
			 min, max);
}

static void endpoint_str(const struct hedge_target_key *t, char *buf,
			 size_t size)
{
	char addr[INET6_ADDRSTRLEN];

	if (is_v4(t)) {
		inet_ntop(AF_INET, t->addr + 12, addr, sizeof(addr));
		snprintf(buf, size, "%s:%u", addr, ntohs(t->port));
	} else {
		inet_ntop(AF_INET6, t->addr, addr, sizeof(addr));
		snprintf(buf, size, "[%s]:%u", addr, ntohs(t->port));
	}
}

/* The target as --target took it. */
void target_str(const struct hedge_target *t, char *buf, size_t size)
{
	size_t n;

	endpoint_str(&t->primary, buf, size);
	n = strlen(buf);
	if (t->replica.port && n + 1 < size) {
		buf[n] = ',';
		endpoint_str(&t->replica, buf + n + 1, size - n - 1);
	}
	n = strlen(buf);
	if (t->primary.proto == HEDGE_PROTO_TCP && n + 4 < size)
		strcpy(buf + n, "/tcp");
}

/* A name from the kernel, fit for a terminal: bytes below 0x20 and 0x7f
 * as \xNN, so that no escape sequence reaches it. */
void printable(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; *s && n + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
}
