// Software prefetch for the decode kernels: Swift has no prefetch intrinsic (clang's `_mm_prefetch` is a macro,
// and `_m_prefetch` imported into Swift compiles to nothing), so this one-line inline function is the only C in
// the kernels. Docs/Performance.md has the measurement that justifies it.
#ifndef PANGU_CPREFETCH_H
#define PANGU_CPREFETCH_H

/// Asks the core to start loading the cache line at `p` into all cache levels (a hint: no fault, no effect on
/// results).
static inline __attribute__((always_inline)) void pangu_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
