/* Replica recovery time, and the parsers of the data sizes and transfer rates it takes
 * (see ballot/reliability.h for the accepted spellings). */
#include "ballot/reliability.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballot/limits.h"

/* A quantity split into its number and its unit: "1.5 TB" -> 1.5 and "TB". */
typedef struct quantity {
	double number;
	const char *unit; /* points into the text; "" when there is none */
} quantity;

/* Reads a non-negative decimal ("12", "1.5", ".5", "3.") at the start of text, then skips
 * spaces to the unit. Only digits and one point: no sign, exponent, hex, inf or nan. */
static int parse_quantity(const char *what, const char *text, quantity *out, ballot_errmsg *em)
{
	const char *s = text;
	size_t digits = 0;
	while (isdigit((unsigned char)*s)) {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			s++;
			digits++;
		}
	}
	if (digits == 0)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s '%s': expected a non-negative number first, like 10GiB", what,
				     text);
	char *end = NULL;
	errno = 0;
	double number = strtod(text, &end);
	if (end != s) /* only under a locale whose decimal point is not '.' */
		return ballot_errorf(em, BALLOT_EINVAL,
				     "%s '%s': cannot read the number under this locale's decimal point",
				     what, text);
	if (errno == ERANGE || !isfinite(number))
		return ballot_errorf(em, BALLOT_EINVAL, "%s '%s': the number is too large", what, text);
	while (*s == ' ')
		s++;
	out->number = number;
	out->unit = s;
	return 0;
}

/* The multiplier of an SI or binary prefix: K is 1000 (Ki 1024), M 1000^2 (Mi 1024^2), G, T.
 * Reads the prefix letter (either case) and an optional 'i', and advances *unit past them.
 * Returns 1 and leaves *unit as it was when the unit does not start with a prefix. */
static double take_prefix(const char **unit)
{
	static const char letters[] = "KMGT";
	const char *u = *unit;
	if (*u == '\0')
		return 1.0;
	const char *hit = strchr(letters, toupper((unsigned char)*u));
	if (hit == NULL)
		return 1.0;
	int power = (int)(hit - letters) + 1;
	bool binary = u[1] == 'i' || u[1] == 'I';
	*unit = u + (binary ? 2 : 1);
	return pow(binary ? 1024.0 : 1000.0, power);
}

static bool is_prefix_only(const char *unit, const char *rest)
{
	return rest != unit && *rest == '\0';
}

int ballot_parse_size_bytes(const char *text, double *bytes, ballot_errmsg *em)
{
	quantity q;
	int rc = parse_quantity("size", text, &q, em);
	if (rc != 0)
		return rc;
	const char *rest = q.unit;
	double factor = take_prefix(&rest);
	if (is_prefix_only(q.unit, rest))
		return ballot_errorf(em, BALLOT_EINVAL,
				     "size '%s': unit '%s' is ambiguous; write %cB (powers of 1000) or "
				     "%ciB (powers of 1024)",
				     text, q.unit, toupper((unsigned char)q.unit[0]),
				     toupper((unsigned char)q.unit[0]));
	if (strcmp(rest, "b") == 0 || strcmp(rest, "bit") == 0)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "size '%s': '%s' is a unit of bits; sizes are in bytes: write B, KB, "
				     "MB, GB, TB or KiB, MiB, GiB, TiB",
				     text, q.unit);
	if (*q.unit != '\0' && strcmp(rest, "B") != 0)
		return ballot_errorf(em, BALLOT_EINVAL,
				     "size '%s': unknown unit '%s'; use B, KB, MB, GB, TB (powers of 1000) "
				     "or KiB, MiB, GiB, TiB (powers of 1024)",
				     text, q.unit);
	double value = q.number * factor;
	if (!isfinite(value))
		return ballot_errorf(em, BALLOT_EINVAL, "size '%s': too large", text);
	*bytes = value;
	return 0;
}

/* The bytes per second of one unit of rate after its prefix ("bit/s" 1/8, "B/s" 1), or 0
 * with a message when the rest of the unit is not one we accept. */
static double rate_base(const char *text, const char *unit, const char *rest,
			ballot_errmsg *em)
{
	if (strcmp(rest, "bit/s") == 0 || strcmp(rest, "bps") == 0)
		return 1.0 / 8.0;
	if (strcmp(rest, "B/s") == 0)
		return 1.0;
	if (strcmp(rest, "b/s") == 0 || strcmp(rest, "Bps") == 0 || strcmp(rest, "BPS") == 0) {
		ballot_errorf(em, BALLOT_EINVAL,
			      "rate '%s': unit '%s' is ambiguous (one letter's case decides bits or "
			      "bytes); write bit/s for bits or B/s for bytes, e.g. Mbit/s or MB/s",
			      text, unit);
		return 0.0;
	}
	if (*unit == '\0')
		ballot_errorf(em, BALLOT_EINVAL,
			      "rate '%s': needs a unit, bits or bytes per second, e.g. 1Gbit/s or "
			      "100MB/s",
			      text);
	else
		ballot_errorf(em, BALLOT_EINVAL,
			      "rate '%s': unknown unit '%s'; use bit/s, Kbit/s, Mbit/s, Gbit/s (or bps, "
			      "Kbps, Mbps, Gbps) or B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s",
			      text, unit);
	return 0.0;
}

int ballot_parse_rate_bytes_per_s(const char *text, double *bytes_per_s, ballot_errmsg *em)
{
	quantity q;
	int rc = parse_quantity("rate", text, &q, em);
	if (rc != 0)
		return rc;
	const char *rest = q.unit;
	double factor = take_prefix(&rest);
	double base = rate_base(text, q.unit, rest, em);
	if (base == 0.0)
		return BALLOT_EINVAL;
	double value = q.number * factor * base;
	if (!(value > 0.0))
		return ballot_errorf(em, BALLOT_EINVAL, "rate '%s': must be more than zero", text);
	if (!isfinite(value))
		return ballot_errorf(em, BALLOT_EINVAL, "rate '%s': too large", text);
	*bytes_per_s = value;
	return 0;
}

int ballot_recovery_time_s(double bytes, double bytes_per_s, unsigned sources, double *seconds,
			   ballot_errmsg *em)
{
	if (!(bytes >= 0.0) || !isfinite(bytes))
		return ballot_errorf(em, BALLOT_EINVAL, "data %g: must be a finite number of bytes >= 0",
				     bytes);
	if (!(bytes_per_s > 0.0) || !isfinite(bytes_per_s))
		return ballot_errorf(em, BALLOT_EINVAL,
				     "bandwidth %g: must be a finite number of bytes per second > 0",
				     bytes_per_s);
	if (sources < 1)
		return ballot_errorf(em, BALLOT_EINVAL, "sources 0: need at least 1 source");
	if (sources > BALLOT_RELIABILITY_N_MAX)
		return ballot_errorf(em, BALLOT_ELIMIT,
				     "sources %u: at most %d (BALLOT_RELIABILITY_N_MAX)", sources,
				     BALLOT_RELIABILITY_N_MAX);
	/* Each source sends its 1/K share at full bandwidth in parallel (the receiver's link
	 * is assumed not to be the bottleneck; see docs/reliability.md). */
	double t = bytes / (bytes_per_s * (double)sources);
	if (!isfinite(t))
		return ballot_errorf(em, BALLOT_ERANGE,
				     "%g bytes at %g bytes/s: the time overflows a double", bytes,
				     bytes_per_s);
	*seconds = t;
	return 0;
}
