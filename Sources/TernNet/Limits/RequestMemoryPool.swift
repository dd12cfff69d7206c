import Synchronization

/// The process-wide budget for request bytes received but not yet handled
/// (`queued.max.request.bytes`), shared by every connection of the servers given it.
///
/// What is counted: the read buffer of every frame too large for a connection's resident 64 KiB
/// buffer, as it grows with the bytes that arrive (about twice what arrived, at most the frame)
/// until the frame is handed to the handler; and what handlers charge for requests they hold for
/// later (a produce queued for validation). A frame's size prefix alone reserves nothing more
/// than the resident buffer: a peer that announces a large frame and then trickles holds only
/// what it sent, so slow peers cannot pin the budget (and `connections.max.partial.request.ms`
/// closes them). A connection whose frame needs more memory while the pool is exhausted stops
/// reading (its read source is suspended; the kernel's socket buffer and TCP flow control hold
/// the peer back) until memory is released.
///
/// A reservation is granted whenever the pool is not yet exhausted, even if it takes the pool
/// past its limit (each step is at most the size of the buffer it doubles). When it is
/// exhausted, one connection already part-way through a frame is let through to the end of that
/// frame (the "finisher"), so frames that wait for each other to finish cannot deadlock, and a
/// frame larger than the whole pool can still be read; the pool overshoots by at most that frame
/// and one step per connection.
public final class RequestMemoryPool: Sendable {
    private struct State {
        var used = 0
        var waiters: [ObjectIdentifier: @Sendable () -> Void] = [:]
        /// The connection let past an exhausted pool to finish its frame.
        var finisher: ObjectIdentifier?
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

    /// Takes `bytes` if the pool is not exhausted, or if `waiter` is part-way through a frame
    /// (`frameInProgress`) and no other connection is already finishing one past the limit.
    /// Otherwise registers `wake` under `waiter` (replacing an earlier registration), to be
    /// called once, from the thread that releases memory, when the pool has room again; returns
    /// false.
    func reserve(
        _ bytes: Int, waiter: ObjectIdentifier, frameInProgress: Bool, wake: @escaping @Sendable () -> Void
    ) -> Bool {
        state.withLock { state in
            let mayFinish = frameInProgress && (state.finisher == nil || state.finisher == waiter)
            guard state.used >= limit && !mayFinish else {
                if state.used >= limit { state.finisher = waiter }
                state.used += bytes
                state.waiters[waiter] = nil
                return true
            }
            state.waiters[waiter] = wake
            return false
        }
    }

    /// Gives back the memory of `holder`'s frame (handed over, or dropped with its connection).
    func releaseFrame(_ bytes: Int, holder: ObjectIdentifier) {
        let woken: [@Sendable () -> Void] = state.withLock { state in
            state.used -= bytes
            precondition(state.used >= 0, "request memory pool released more than it gave")
            var wakeAll = state.used < limit
            if state.finisher == holder {
                // Another waiting frame may now be let through to its end.
                state.finisher = nil
                wakeAll = true
            }
            guard wakeAll, !state.waiters.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for wake in woken { wake() }
    }

    /// Forgets `waiter`'s registration (its connection closed).
    func cancelWait(_ waiter: ObjectIdentifier) {
        let woken: [@Sendable () -> Void] = state.withLock { state in
            state.waiters.removeValue(forKey: waiter)
            guard state.finisher == waiter else { return [] }
            state.finisher = nil
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for wake in woken { wake() }
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
