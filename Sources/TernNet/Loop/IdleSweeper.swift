import Dispatch

/// Closes one loop's idle server connections and those stalled part-way through a request
/// frame, and notices peers that closed while their connection's reads were suspended: a single
/// repeating timer per loop sweeps them, rather than a timer per connection re-armed on every read.
final class IdleSweeper: @unchecked Sendable {
    // `@unchecked Sendable`: `connections` and `timer` are touched only on `loop.queue`
    // (every method hops there).

    private let loop: EventLoop
    private let idleTimeout: Duration?
    private let partialRequestTimeout: Duration?
    private var connections: [UInt64: ServerConnection] = [:]
    private var timer: (any DispatchSourceTimer)?

    /// - Parameters:
    ///   - idleTimeout: closes connections that move no byte this long with nothing in flight.
    ///   - partialRequestTimeout: closes connections holding part of a frame this long.
    init(loop: EventLoop, idleTimeout: Duration?, partialRequestTimeout: Duration?) {
        self.loop = loop
        self.idleTimeout = idleTimeout
        self.partialRequestTimeout = partialRequestTimeout
    }

    private static func nanoseconds(_ timeout: Duration?) -> UInt64? {
        timeout.map { UInt64(max($0.clampedNanoseconds, 1)) }
    }

    /// Starts sweeping every quarter of the shorter timeout (between 10 ms and 1 s), so a
    /// connection is closed at most a quarter late.
    func start() {
        let shortest = [Self.nanoseconds(idleTimeout), Self.nanoseconds(partialRequestTimeout)].compactMap { $0 }.min()
        guard let shortest else { return }
        let interval = min(max(shortest / 4, 10_000_000), 1_000_000_000)
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
        let idle = Self.nanoseconds(idleTimeout)
        let partial = Self.nanoseconds(partialRequestTimeout)
        for connection in connections.values {
            connection.checkPeerWhileSuspended()
            if let idle, let idleTimeout, connection.isIdle(now: now, timeoutNanoseconds: idle) {
                connection.closeIdle(timeout: idleTimeout)
            } else if let partial, let partialRequestTimeout,
                connection.hasStalledPartialRequest(now: now, timeoutNanoseconds: partial)
            {
                connection.closeStalled(timeout: partialRequestTimeout)
            }
        }
    }
}
