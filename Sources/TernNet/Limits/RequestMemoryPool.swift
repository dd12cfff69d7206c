import Synchronization

/// The process-wide budget for request bytes received but not yet handled
/// (`queued.max.request.bytes`), shared by every connection of the servers given it.
///
/// What is counted: every frame too large for a connection's resident 64 KiB read buffer, from
/// the moment its size prefix is read (so partial frames count in full) until it is handed to
/// the handler; and what handlers charge for requests they hold for later (a produce queued
/// for validation). A connection whose next frame needs memory while the pool is exhausted
/// stops reading (its read source is suspended; the kernel's socket buffer and TCP flow control
/// hold the peer back) until memory is released.
///
/// As Kafka's memory pool, a reservation is granted whenever the pool is not yet exhausted, even
/// if it takes the pool past its limit: a frame larger than the whole pool can still be read,
/// and a connection that holds a reservation always completes its frame, so nothing deadlocks;
/// the pool overshoots by at most one frame per reservation granted while below the limit.
public final class RequestMemoryPool: Sendable {
    private struct State {
        var used = 0
        var waiters: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    /// The budget in bytes.
    public let limit: Int
    private let state = Mutex(State())

    /// - Parameter limit: bytes; frames wait while this many are in use.
    public init(limit: Int) {
        self.limit = max(limit, 0)
    }

    /// Bytes in use now.
    public var usedBytes: Int { state.withLock { $0.used } }

    /// Connections waiting for memory now.
    public var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Takes `bytes` if the pool is not exhausted. Otherwise registers `wake` under `waiter`
    /// (replacing an earlier registration), to be called once, from the thread that releases
    /// memory, when the pool has room again; returns false.
    func reserve(_ bytes: Int, waiter: ObjectIdentifier, wake: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard state.used >= limit else {
                state.used += bytes
                state.waiters[waiter] = nil
                return true
            }
            state.waiters[waiter] = wake
            return false
        }
    }

    /// Forgets `waiter`'s registration (its connection closed).
    func cancelWait(_ waiter: ObjectIdentifier) {
        _ = state.withLock { $0.waiters.removeValue(forKey: waiter) }
    }

    /// Counts `bytes` that are already allocated (a request a handler keeps for later), even past
    /// the limit; pair with ``release(_:)``.
    public func charge(_ bytes: Int) {
        state.withLock { $0.used += bytes }
    }

    /// Gives back `bytes`; wakes every waiting connection once the pool has room.
    public func release(_ bytes: Int) {
        let woken: [@Sendable () -> Void] = state.withLock { state in
            state.used -= bytes
            precondition(state.used >= 0, "request memory pool released more than it gave")
            guard state.used < limit, !state.waiters.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for wake in woken { wake() }
    }
}
