#if canImport(Glibc)
import CTernLinux
#endif

/// Process-wide allocator settings for the broker's request path.
///
/// A produce request of a few hundred KiB is copied into buffers of that size; glibc serves
/// allocations above its mmap threshold (128 KiB at first) with a fresh `mmap` each time, so every
/// request paid for faulting in and zeroing new pages, about a quarter of the broker's CPU during
/// produce (`clear_page_erms` and page-fault handling in `perf`). Raising the mmap threshold to
/// 32 MiB and the trim threshold to 64 MiB lets freed buffers be reused from the heap instead.
/// Measured with `tern perf produce` (1M × 100 B, acks=1): broker CPU 0.34–0.49 s → 0.17–0.18 s
/// (docs/benchmarks.md).
enum MallocTuning {
    static let mmapThreshold: Int32 = 32 << 20
    static let trimThreshold: Int32 = 64 << 20

    /// Applies the settings; call once, before the broker allocates request buffers.
    static func apply() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
        _ = mallopt(M_TRIM_THRESHOLD, trimThreshold)
        #endif
    }
}
