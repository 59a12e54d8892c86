#ifndef STAVE_SUPPORT_H
#define STAVE_SUPPORT_H
/* Small C helpers Swift has no spelling for. Header only: every function is
   static inline, so it compiles into its Swift caller. */

/* Asks the CPU to bring the cache line holding p into all cache levels
   (a read, high temporal locality). A hint only: it never faults, whatever p
   is, so the caller may pass an address past the end of a buffer. */
static inline void stave_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#include <malloc.h>

/* glibc's allocator tuning (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_ARENA_MAX): <malloc.h>,
   which Swift's Glibc module does not import. Declared here rather than
   looked up by name: a static executable has no dynamic symbol table. */
static inline int stave_mallopt(int param, int value) {
#ifdef __GLIBC__
    return mallopt(param, value);
#else
    (void)param; (void)value;
    return 0;
#endif
}
static inline int stave_m_mmap_threshold(void) {
#ifdef M_MMAP_THRESHOLD
    return M_MMAP_THRESHOLD;
#else
    return 0;
#endif
}
static inline int stave_m_arena_max(void) {
#ifdef M_ARENA_MAX
    return M_ARENA_MAX;
#else
    return 0;
#endif
}
static inline int stave_m_trim_threshold(void) {
#ifdef M_TRIM_THRESHOLD
    return M_TRIM_THRESHOLD;
#else
    return 0;
#endif
}

#include <unistd.h>
#include <sys/syscall.h>

/* Frees the bytes [offset, offset + length) of the regular file open for
   writing as fd (fallocate with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
   the file keeps its size and reads zeros there; whole pages inside the range
   leave the page cache and the disk). Returns 0, or -1 with errno set (for
   instance EOPNOTSUPP on a file system without holes). Through syscall():
   glibc declares fallocate only under _GNU_SOURCE, which the Swift importer
   does not define. */
static inline int stave_punch_hole(int fd, long long offset, long long length) {
#if defined(__linux__) && defined(SYS_fallocate)
    return (int)syscall(SYS_fallocate, fd, 0x01 /* KEEP_SIZE */ | 0x02 /* PUNCH_HOLE */, offset, length);
#else
    (void)fd; (void)offset; (void)length;
    return -1;
#endif
}

#include <fcntl.h>

/* open()'s O_DIRECT flag (glibc spells it O_DIRECT only under _GNU_SOURCE;
   __O_DIRECT is its value on every architecture), or 0 where unknown. */
static inline int stave_o_direct(void) {
#if defined(O_DIRECT)
    return O_DIRECT;
#elif defined(__O_DIRECT)
    return __O_DIRECT;
#else
    return 0;
#endif
}

#endif
