#ifndef STAVE_SUPPORT_H
#define STAVE_SUPPORT_H
/* Small C helpers Swift has no spelling for. Header only: every function is
   static inline, so it compiles into its Swift caller. */

/* Asks the CPU to bring the cache line holding p into all cache levels
   (a read, high temporal locality). A hint only: it never faults, whatever p
   is, so the caller may pass an address past the end of a buffer. */
static inline void stave_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
