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

#include <fcntl.h>
#include <sys/stat.h>

/* Gives the pipe on fd a buffer of at least `bytes` (Linux: F_SETPIPE_SZ,
   which Swift's Glibc module does not spell; the values are the kernel's
   ABI). Returns the pipe's size, or -1 when fd is not a pipe or the kernel
   refuses (pipe-max-size, the per-user pipe limits): the pipe then stays as
   it was. Never shrinks a pipe. */
static inline int stave_widen_pipe(int fd, int bytes) {
#if defined(__linux__)
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return -1;
    int now = fcntl(fd, 1032 /* F_GETPIPE_SZ */);
    if (now >= bytes) return now;
    return fcntl(fd, 1031 /* F_SETPIPE_SZ */, bytes);
#else
    (void)fd; (void)bytes;
    return -1;
#endif
}


#include <errno.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

/* Frees the file's blocks (and page-cache pages) in [offset, offset + length)
   without changing its size: Linux fallocate(FALLOC_FL_PUNCH_HOLE |
   FALLOC_FL_KEEP_SIZE). Called through syscall(2): glibc declares
   fallocate only for _GNU_SOURCE, and Swift's Glibc module spells neither
   it nor the flags (the values are the kernel's ABI). The range then reads
   as zeros. Returns 0, or -1 with errno set (EOPNOTSUPP where the file
   system cannot). */
static inline int stave_punch_hole(int fd, long long offset, long long length) {
#if defined(__linux__) && defined(SYS_fallocate)
    return (int)syscall(SYS_fallocate, fd, 0x02 /* PUNCH_HOLE */ | 0x01 /* KEEP_SIZE */, offset, length);
#else
    (void)fd; (void)offset; (void)length;
    errno = EOPNOTSUPP;
    return -1;
#endif
}

#endif
