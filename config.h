/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * config.h - what the command line asks for, validated (config.c), and
 * how a config is said back (durations, delays, targets).
 */
#ifndef HEDGE_CONFIG_H
#define HEDGE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "hedge.h"
#include "hedge_user.h"
#include "resolv.h"

/* Exit codes, the one place they are defined (usage text and README say
 * the same). */
#define EXIT_OK		0
#define EXIT_ERROR	1
#define EXIT_USAGE	2
#define EXIT_DEGRADED	3	/* status: up but not all working (health) */

#define NS_PER_US	1000ULL
#define NS_PER_MS	1000000ULL
#define NS_PER_S	1000000000ULL

#define TARGET_STR	112	/* "[IPv6]:PORT,[IPv6]:PORT/tcp" */

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };
/* How `up` attaches the Splitter and watcher: auto is TCX where the
 * kernel has it (6.6+), else clsact. */
enum attach_kind { ATTACH_AUTO, ATTACH_TCX, ATTACH_TC };

/* Everything a command was asked to do, validated. */
struct options {
	const char *dev;
	struct hedge_config cfg;	/* targets, delay, window, id */
	const struct delay_line *line;	/* NULL: auto, netem else tick */
	enum format format;		/* status */
	enum attach_kind attach;	/* up */
	int repair;			/* up --repair: mend a degraded one */
	int window_given, bounds_given;
	uint32_t max_inflight;		/* tick line: a power of 2 */
	int dev_given, id_given, delay_given;
	int dns;			/* up --dns: targets from resolv.conf */
	const char *resolv_conf;	/* --resolv-conf, or NULL */
	struct dns_conf dns_conf;	/* its nameservers (resolv.c) */
	int id_dns, match_given;	/* --id dns; --match (safe.c) */
};

/* "hedge: <fmt with arg> (see 'hedge --help')"; returns -1. */
int usage_error(const char *fmt, const char *arg);
/* A number in 0..max into *v, in strtoul's base (0: decimal, 0x hex or
 * 0 octal); it starts with a digit: 0, or -1 (not said). */
int parse_ulong(const char *s, int base, unsigned long max,
		unsigned long *v);
/* A decimal in 0..max into *v: 0, or -1 (not said). */
int parse_uint(const char *s, unsigned long max, unsigned long *v);
/* target.c: --target's text added to cfg's targets; -1 said why. */
int add_target(struct hedge_config *cfg, const char *s);
/* `up`'s options into o, checked against each other; -1 said why. */
int parse_up(int argc, char **argv, struct options *o);
int parse_status(int argc, char **argv, struct options *o);
int parse_down(int argc, char **argv, struct options *o);
/* up --dns, as its options are checked (resolv.c): its rules, and the
 * nameservers of resolv.conf read; -1 said why. */
int dns_check(struct options *o);
/* up --dns, once rtnetlink is open: the routes to the nameservers, the
 * targets and the device, said on stdout (resolv.c); 0 or an exit code. */
int dns_setup(struct nl *nl, struct options *o);

/* safe.c: --match, --hedge-dscp, --hedge-priority, as option handlers;
 * finish_match() once all are read (--id dns: standard queries only);
 * the match and the hedges' dress said back. */
int opt_match(struct options *o, const char *opt, const char *val);
int opt_hedge_dscp(struct options *o, const char *opt, const char *val);
int opt_hedge_priority(struct options *o, const char *opt, const char *val);
void finish_match(struct options *o);
void describe_match(const struct hedge_config *c, char *buf, size_t size);
void describe_dress(const struct hedge_config *c, char *buf, size_t size);

/* The delay lines hedge knows, in auto's order of preference. */
extern const struct delay_line *const delay_lines[];
extern const size_t n_delay_lines;
const struct delay_line *line_of(unsigned int kind);

/* An IPv4 address (mapped into IPv6, as hedge keeps it). */
int is_v4(const struct hedge_target_key *t);
int same_endpoint(const struct hedge_target_key *a,
		  const struct hedge_target_key *b);
int has_replica(const struct hedge_config *cfg);
/* Some target is TCP (--target IP:PORT/tcp). */
int has_tcp(const struct hedge_config *cfg);
/* Some TCP target has a replica (hedge_nat is used). */
int has_tcp_replica(const struct hedge_config *cfg);
void format_duration(char *buf, size_t size, uint64_t ns);
/* How `up` was told to delay: "10ms", or "p95 in 1ms..1s". */
void describe_delay(const struct hedge_config *cfg, char *buf, size_t size);
/* The target as --target took it. */
void target_str(const struct hedge_target *t, char *buf, size_t size);
/* A name fit for a terminal: control bytes as \xNN; buf of 4x + 1. */
void printable(const char *s, char *buf, size_t size);

#endif
