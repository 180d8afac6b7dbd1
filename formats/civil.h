/*
 * Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms)
 * for the checkpoint time line (SPEC 8) and the syslog timestamps: our
 * own, because libc's time code consults the locale and the TZ variable.
 * Eras of 400 years (146097 days) make every step exact integer
 * arithmetic, also before 1970.  Private to formats/.
 *
 * Inline: the syslog parser calls these for every message it receives.
 */
#ifndef CUSTODY_CIVIL_H
#define CUSTODY_CIVIL_H

#include <stdint.h>

/*
 * Days from 1970-01-01 to y-m-d, m in 1..12 and d in 1..31; exact for
 * every y whose result fits an int64_t.
 */
static inline int64_t
cst_civil_to_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

/* The date y-m-d (returned) of day z since 1970-01-01. */
static inline void
cst_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Days in month m (1..12) of year y. */
static inline int
cst_civil_month_days(int64_t y, int m)
{
	static const uint8_t days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return (29);
	return (days[m - 1]);
}

#endif /* CUSTODY_CIVIL_H */
