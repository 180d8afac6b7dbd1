/*
 * A mapped file truncated under its reader: the guarded reader reads zeros
 * and learns of it; an unguarded mapping still dies of SIGBUS (the guard
 * hides no real fault).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "custody/mapguard.h"

#define PAGES 4

/*
 * The previous action takes a fault the guard does not own; under ASan
 * that is ASan's handler, which reports it and aborts.
 */
#ifdef __SANITIZE_ADDRESS__
#define UNGUARDED_DEATH SIGABRT
#else
#define UNGUARDED_DEATH SIGBUS
#endif

/* A file of PAGES pages of 0xa5, mapped; its path is unlinked already. */
static void *
map_file(int *fd_out, size_t *len_out)
{
	char path[] = "/tmp/custody-mapguard-XXXXXX";
	size_t len = (size_t)PAGES * (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *buf;
	void *p;
	int fd;

	cr_assert_neq(fd = mkstemp(path), -1);
	unlink(path);
	cr_assert_not_null(buf = malloc(len));
	memset(buf, 0xa5, len);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	free(buf);
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	*fd_out = fd;
	*len_out = len;
	return (p);
}

Test(mapguard, truncated_file_reads_zeros_and_is_reported)
{
	const volatile uint8_t *p;
	size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
	void *base;
	int fd, slot;

	cr_assert_eq(cst_mapguard_install(), 0);
	p = base = map_file(&fd, &len);
	cr_assert_geq(slot = cst_mapguard_add(base, len), 0);
	cr_assert_eq(p[len - 1], 0xa5);
	cr_assert_eq(cst_mapguard_faulted(slot), 0);

	cr_assert_eq(ftruncate(fd, (off_t)page), 0);
	cr_assert_eq(p[0], 0xa5, "what is still in the file reads as before");
	cr_assert_eq(p[2 * page + 7], 0, "past the new end reads zeros");
	cr_assert_eq(p[len - 1], 0);
	cr_assert_eq(cst_mapguard_faulted(slot), 1);
	cr_assert_eq(cst_mapguard_remove(slot), 1);
	munmap(base, len);
	close(fd);
}

Test(mapguard, slots_are_reused_and_start_clean)
{
	int fd, a, b;
	size_t len;
	void *p;

	cr_assert_eq(cst_mapguard_install(), 0);
	p = map_file(&fd, &len);
	cr_assert_geq(a = cst_mapguard_add(p, len), 0);
	cr_assert_eq(cst_mapguard_remove(a), 0);
	cr_assert_eq(b = cst_mapguard_add(p, len), a);
	cr_assert_eq(cst_mapguard_faulted(b), 0);
	cr_assert_eq(cst_mapguard_remove(b), 0);
	cr_assert_eq(cst_mapguard_add(p, 0), -1, "an empty range is no range");
	cr_assert_eq(cst_mapguard_remove(-1), 0);
	munmap(p, len);
	close(fd);
}

Test(mapguard, unguarded_mapping_still_dies, .signal = UNGUARDED_DEATH)
{
	const volatile uint8_t *p;
	size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
	int fd;

	cr_assert_eq(cst_mapguard_install(), 0);
	p = map_file(&fd, &len);
	cr_assert_eq(ftruncate(fd, (off_t)page), 0);
	(void)p[3 * page];
}

Test(mapguard, removed_range_is_not_guarded, .signal = UNGUARDED_DEATH)
{
	const volatile uint8_t *p;
	size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
	void *base;
	int fd;

	cr_assert_eq(cst_mapguard_install(), 0);
	p = base = map_file(&fd, &len);
	cst_mapguard_remove(cst_mapguard_add(base, len));
	cr_assert_eq(ftruncate(fd, (off_t)page), 0);
	(void)p[3 * page];
}
