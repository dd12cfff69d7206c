import Synchronization

/// Counts the `fdatasync` calls that flushes make (for tests and metrics), shared by every log of
/// a ``LogManager``.
final class SyncCounter: Sendable {
    private let count = Atomic<Int>(0)

    var value: Int { count.load(ordering: .relaxed) }

    func add(_ n: Int) {
        if n > 0 { count.add(n, ordering: .relaxed) }
    }
}
