/*
 * Mapped files that shrink under their readers (see mapguard.h).
 *
 * The handler only reads the slot table and calls mmap and sigaction, both
 * plain system calls on Linux; it takes no lock and allocates nothing, so
 * it is safe whichever thread faults and whatever that thread held.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "custody/error.h"
#include "custody/mapguard.h"

struct slot {
	atomic_uintptr_t start;  /* 0: free */
	atomic_size_t len;
	atomic_int faulted;
};

static struct slot slots[CST_MAPGUARD_SLOTS];
static atomic_int installed;
static uintptr_t page_size;
static struct sigaction previous;

static void
on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr, s, end, from;
	size_t i, len;

	(void)sig;
	(void)ctx;
	for (i = 0; i < CST_MAPGUARD_SLOTS; i++) {
		s = atomic_load(&slots[i].start);
		len = atomic_load(&slots[i].len);
		if (s == 0 || a < s || a - s >= len)
			continue;
		from = a & ~(page_size - 1);
		end = (s + len + page_size - 1) & ~(page_size - 1);
		if (mmap((void *)from, end - from, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			break;
		atomic_store(&slots[i].faulted, 1);
		return;
	}
	/*
	 * Not ours (or not mendable): the action that was there before
	 * takes the fault when the instruction runs again.
	 */
	(void)sigaction(SIGBUS, &previous, NULL);
}

int
cst_mapguard_install(void)
{
	struct sigaction sa;
	long ps;

	if (atomic_load(&installed))
		return (0);
	if ((ps = sysconf(_SC_PAGESIZE)) <= 0)
		return (CST_EIO);
	page_size = (uintptr_t)ps;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &previous) != 0)
		return (CST_EIO);
	atomic_store(&installed, 1);
	return (0);
}

int
cst_mapguard_add(const void *p, size_t len)
{
	uintptr_t zero;
	int i;

	if (!atomic_load(&installed) || len == 0 || p == NULL)
		return (-1);
	for (i = 0; i < CST_MAPGUARD_SLOTS; i++) {
		zero = 0;
		/* Claimed with a placeholder so no other thread takes it. */
		if (!atomic_compare_exchange_strong(&slots[i].start, &zero,
		    (uintptr_t)1))
			continue;
		atomic_store(&slots[i].faulted, 0);
		/* len is 0 while start is the placeholder: nothing matches. */
		atomic_store(&slots[i].len, 0);
		atomic_store(&slots[i].start, (uintptr_t)p);
		atomic_store(&slots[i].len, len);
		return (i);
	}
	return (-1);
}

int
cst_mapguard_faulted(int slot)
{

	if (slot < 0 || slot >= CST_MAPGUARD_SLOTS)
		return (0);
	return (atomic_load(&slots[slot].faulted));
}

int
cst_mapguard_remove(int slot)
{
	int faulted;

	if (slot < 0 || slot >= CST_MAPGUARD_SLOTS)
		return (0);
	faulted = atomic_load(&slots[slot].faulted);
	atomic_store(&slots[slot].len, 0);
	atomic_store(&slots[slot].start, 0);
	return (faulted);
}
