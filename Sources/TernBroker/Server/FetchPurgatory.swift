import Dispatch
import Logging
import Synchronization
import TernStorage

/// Fetches waiting for data ("purgatory"). A parked fetch completes exactly once: when appends to
/// its partitions have added at least the bytes it still needs, when its wait ends, when the
/// connection that sent it closes, or at shutdown.
///
/// Each parked fetch has one `DispatchSourceTimer`, cancelled the moment the fetch completes
/// for any other reason, and its completion closure (which holds the request, its session and
/// its connection) is dropped at completion: nothing of a finished fetch stays alive until its
/// wait would have ended. The wait itself is capped by `fetch.max.wait.cap.ms`, whatever the
/// client asks for.
final class FetchPurgatory: Sendable {
    private final class Waiter: Sendable {
        /// What a waiter holds until it completes; all of it is dropped then.
        struct State {
            /// Bytes still needed.
            var needed: Int
            var complete: (@Sendable () -> Void)?
            var timer: WaitTimer?
        }

        let partitions: [TopicPartition]
        /// The connection that sent the fetch (``TernNet/ServerConnection/id``).
        let owner: UInt64
        /// Nil once completed.
        private let state: Mutex<State?>

        init(owner: UInt64, partitions: [TopicPartition], minBytes: Int, complete: @escaping @Sendable () -> Void) {
            self.owner = owner
            self.partitions = partitions
            self.state = Mutex(State(needed: minBytes, complete: complete, timer: nil))
        }

        /// Attaches the timer; false if the waiter already completed (the caller cancels it).
        func attach(_ timer: WaitTimer) -> Bool {
            state.withLock { state in
                guard state != nil else { return false }
                state?.timer = timer
                return true
            }
        }

        /// Marks the waiter done and cancels its timer; returns the completion for the one
        /// caller that should run it.
        func finish() -> (@Sendable () -> Void)? {
            let taken = state.withLock { state in
                defer { state = nil }
                return state
            }
            taken?.timer?.source.cancel()
            return taken?.complete
        }

        /// Counts appended bytes; true when the waiter just became satisfied (it is not finished
        /// yet: the caller finishes it).
        func add(_ bytes: Int) -> Bool {
            state.withLock { state in
                guard let current = state?.needed, current > 0 else { return false }
                let left = current - bytes
                state?.needed = max(left, 0)
                return left <= 0
            }
        }
    }

    private struct Registry {
        var byPartition: [TopicPartition: [ObjectIdentifier: Waiter]] = [:]
        var byOwner: [UInt64: [ObjectIdentifier: Waiter]] = [:]
        var count: Int { byOwner.values.reduce(0) { $0 + $1.count } }
    }

    private let registry = Mutex(Registry())
    private let queue = DispatchQueue(label: "tern.purgatory", target: .global())
    private let logger: Logger
    /// The longest a fetch may wait (`fetch.max.wait.cap.ms`).
    let maxWaitCapMs: Int

    init(maxWaitCapMs: Int, logger: Logger) {
        self.maxWaitCapMs = max(maxWaitCapMs, 0)
        self.logger = logger
    }

    /// Parks a fetch of connection `owner` until `minBytes` more bytes arrive on any of
    /// `partitions`, `maxWaitMs` (capped by ``maxWaitCapMs``) passes, or ``cancel(owner:)``.
    func park(
        owner: UInt64, partitions: [TopicPartition], minBytes: Int, maxWaitMs: Int,
        complete: @escaping @Sendable () -> Void
    ) {
        let waiter = Waiter(owner: owner, partitions: partitions, minBytes: max(minBytes, 1), complete: complete)
        let id = ObjectIdentifier(waiter)
        registry.withLock { registry in
            for tp in partitions { registry.byPartition[tp, default: [:]][id] = waiter }
            registry.byOwner[owner, default: [:]][id] = waiter
        }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(min(max(maxWaitMs, 0), maxWaitCapMs)))
        // Weak: the timer is the waiter's, cancelled when it finishes; it must not keep it alive.
        timer.setEventHandler { [weak self, weak waiter] in
            guard let self, let waiter else { return }
            self.finish(waiter)
        }
        if waiter.attach(WaitTimer(source: timer)) {
            timer.activate()
        } else {
            // Finished between registering and here (an append, a cancel): the timer never ran.
            timer.cancel()
            timer.activate()
        }
    }

    /// Called after every append: wakes fetches that now have enough bytes.
    func didAppend(to tp: TopicPartition, bytes: Int) {
        let ready: [Waiter] = registry.withLock { registry in
            guard let list = registry.byPartition[tp], !list.isEmpty else { return [] }
            return list.values.filter { $0.add(bytes) }
        }
        for waiter in ready { queue.async { [self] in finish(waiter) } }
    }

    /// Completes every fetch parked by connection `owner` now: it is closing, and its parked
    /// fetches must not keep it (and its descriptor) open until their waits end.
    func cancel(owner: UInt64) {
        let waiters: [Waiter] = registry.withLock { registry in
            guard let list = registry.byOwner[owner] else { return [] }
            return Array(list.values)
        }
        for waiter in waiters { finish(waiter) }
    }

    /// Completes every parked fetch now (shutdown).
    func completeAll() {
        let all: [Waiter] = registry.withLock { registry in registry.byOwner.values.flatMap(\.values) }
        for waiter in all { finish(waiter) }
    }

    /// Fetches parked now (tests and diagnostics).
    var parkedCount: Int { registry.withLock { $0.count } }

    /// Unregisters `waiter` and runs its completion, if nobody else has.
    private func finish(_ waiter: Waiter) {
        guard let complete = waiter.finish() else { return }
        let id = ObjectIdentifier(waiter)
        registry.withLock { registry in
            for tp in waiter.partitions {
                registry.byPartition[tp]?[id] = nil
                if registry.byPartition[tp]?.isEmpty == true { registry.byPartition[tp] = nil }
            }
            registry.byOwner[waiter.owner]?[id] = nil
            if registry.byOwner[waiter.owner]?.isEmpty == true { registry.byOwner[waiter.owner] = nil }
        }
        complete()
    }
}

/// A parked fetch's timer, cancelled from whichever thread completes the fetch.
private struct WaitTimer: @unchecked Sendable {
    // `@unchecked Sendable`: a Dispatch source is a thread-safe object (libdispatch guards its
    // state with atomics); `cancel()` may be called from any thread, and that is all this does
    // with it after activation.
    let source: any DispatchSourceTimer
}
