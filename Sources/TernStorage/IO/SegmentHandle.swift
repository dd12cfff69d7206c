import Synchronization

/// What a segment holds instead of an open file: its log file's path and, while the
/// ``SegmentFileCache`` lets it, the open ``SegmentFile``. ``open()`` returns the cached file
/// (a lock and a reference count, no system call) or opens it again after an eviction.
///
/// Using a descriptor means holding the returned ``SegmentFile``: that reference is the pin.
/// An eviction only drops the handle's reference, so a read, flush or `sendfile` in progress
/// keeps the descriptor until it lets go; the next ``open()`` meanwhile reuses that still-open
/// file rather than opening a second descriptor.
///
/// Lock order: a log's `state`, then a handle's `state`, then the cache's; the cache never takes
/// a handle's lock while holding its own (evictions are applied after it is released).
final class SegmentHandle: Sendable {
    /// The log file's path (the final name: a handle never refers to `.cleaned` or `.swap` files).
    let path: String
    let cache: SegmentFileCache

    private struct State: Sendable {
        /// The file while the cache holds it.
        var file: SegmentFile?
        /// The last file opened, while anything still uses it (reused instead of a second open).
        weak var lastFile: SegmentFile?
        /// Bumped each time the cache admits a file of this handle (names the admission).
        var generation: UInt64 = 0
        /// The segment left its log: never open the path again (it may name another file now).
        var retired = false
    }

    private let state: Mutex<State>
    /// Set on every use, cleared by the cache's clock hand: a second chance before eviction.
    let referenced = Atomic<Bool>(false)
    /// The generation the cache holds, 0 while it holds none (read by the cache without the
    /// handle's lock, to skip stale entries; the handle's lock decides).
    let cachedGeneration = Atomic<UInt64>(0)
    /// The read fence: bumped (under the log's lock) before a truncation cuts or deletes the
    /// file, so reads planned before can tell that the bytes at their positions may have changed
    /// (``LogSlice/isCurrent``). Sequentially consistent: the bump precedes the `ftruncate`.
    let truncations = Atomic<UInt64>(0)

    /// A handle for the file at `path`, holding `file` (just opened or created there) when given.
    init(path: String, file: SegmentFile?, cache: SegmentFileCache = .shared) {
        self.path = path
        self.cache = cache
        state = Mutex(State())
        // A new handle is not retired, so installing cannot throw.
        if let file { _ = try? install(file) }
    }

    deinit {
        // Nothing else can reach the state now; the file closes when its last user lets go.
        let held = state.withLock { $0.file != nil }
        if held { cache.released() }
    }

    /// The open file; the caller uses its descriptor for as long as it holds the result.
    /// - Throws: `descriptorsExhausted` when no descriptor may be spent on it now (see
    ///   ``SegmentFileCache/openLimit``); `ioError` when the file cannot be opened; `notFound`
    ///   when the segment has left its log.
    func open() throws -> SegmentFile {
        if let file = state.withLock({ $0.file }) {
            if !referenced.load(ordering: .relaxed) { referenced.store(true, ordering: .relaxed) }
            return file
        }
        return try openAgain()
    }

    /// The slow path: reuse a file still in use elsewhere, or open the path.
    private func openAgain() throws -> SegmentFile {
        let inUse = try state.withLock { state -> SegmentFile? in
            if state.retired { throw StorageError(.notFound, "\(path) is no longer part of its log") }
            return state.lastFile
        }
        // The open itself runs outside the lock; a racing open of the same handle loses below and
        // its descriptor is closed when its result is dropped.
        return try install(try inUse ?? SegmentFile(reopening: path, limit: cache.openLimit))
    }

    /// Makes `file` the cached one unless another already is; returns the one to use.
    /// - Throws: `notFound` when the handle was retired meanwhile: the path may already name
    ///   another file (segments are retired before their files are renamed or deleted).
    private func install(_ file: SegmentFile) throws -> SegmentFile {
        let (result, admitted) = try state.withLock { state -> (SegmentFile, UInt64?) in
            if let existing = state.file { return (existing, nil) }
            if state.retired { throw StorageError(.notFound, "\(path) is no longer part of its log") }
            state.generation += 1
            state.file = file
            state.lastFile = file
            cachedGeneration.store(state.generation, ordering: .releasing)
            return (file, state.generation)
        }
        if let admitted {
            referenced.store(true, ordering: .relaxed)
            cache.admit(self, generation: admitted)
        }
        return result
    }

    /// Drops the cached file if it is still the one admitted as `generation` (the cache chose it).
    func evict(generation: UInt64) {
        let dropped = state.withLock { state -> SegmentFile? in
            guard state.generation == generation, let file = state.file else { return nil }
            state.file = nil
            cachedGeneration.store(0, ordering: .releasing)
            return file
        }
        if dropped != nil { cache.released() }
        // `dropped` goes here, outside the lock: the close (if nobody uses the file) runs unlocked.
    }

    /// The segment has left its log (deleted, or replaced by a cleaned one): drops the cached
    /// file and refuses to open the path again. Users holding the file keep it until they let go.
    /// Called before the file is renamed or deleted, so that an open racing it either got the
    /// old file before or fails.
    func retire() {
        let dropped = state.withLock { state -> SegmentFile? in
            state.retired = true
            defer { state.file = nil }
            if state.file != nil { cachedGeneration.store(0, ordering: .releasing) }
            return state.file
        }
        if dropped != nil { cache.released() }
    }

    /// True while the cache holds this handle's file (for tests).
    var isCached: Bool { state.withLock { $0.file != nil } }
}
