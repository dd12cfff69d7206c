import Dispatch

/// Closes one loop's idle server connections: a single repeating timer per loop sweeps them,
/// rather than a timer per connection re-armed on every read.
final class IdleSweeper: @unchecked Sendable {
    // `@unchecked Sendable`: `connections` and `timer` are touched only on `loop.queue`
    // (every method hops there).

    private let loop: EventLoop
    private let timeout: Duration
    private let timeoutNanoseconds: UInt64
    private var connections: [UInt64: ServerConnection] = [:]
    private var timer: (any DispatchSourceTimer)?

    init(loop: EventLoop, timeout: Duration) {
        self.loop = loop
        self.timeout = timeout
        self.timeoutNanoseconds = UInt64(max(timeout.clampedNanoseconds, 1))
    }

    /// Starts sweeping every quarter of the timeout (between 10 ms and 1 s), so a connection is
    /// closed at most a quarter late.
    func start() {
        let interval = min(max(timeoutNanoseconds / 4, 10_000_000), 1_000_000_000)
        loop.execute {
            let timer = DispatchSource.makeTimerSource(queue: self.loop.queue)
            timer.schedule(
                deadline: .now() + .nanoseconds(Int(interval)), repeating: .nanoseconds(Int(interval)),
                leeway: .nanoseconds(Int(interval / 10)))
            timer.setEventHandler { self.sweep() }
            self.timer = timer
            timer.resume()
        }
    }

    /// Stops the timer and forgets the connections.
    func stop() {
        loop.execute {
            self.timer?.cancel()
            self.timer = nil
            self.connections.removeAll()
        }
    }

    /// Watches a connection; on the loop.
    func add(_ connection: ServerConnection) {
        loop.assertOnLoop()
        connections[connection.id] = connection
    }

    /// Stops watching a connection; on the loop.
    func remove(_ connection: ServerConnection) {
        loop.assertOnLoop()
        connections[connection.id] = nil
    }

    private func sweep() {
        let now = DispatchTime.now().uptimeNanoseconds
        for connection in connections.values where connection.isIdle(now: now, timeoutNanoseconds: timeoutNanoseconds) {
            connection.closeIdle(timeout: timeout)
        }
    }
}
