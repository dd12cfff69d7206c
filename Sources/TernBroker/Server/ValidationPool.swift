import DequeModule
import Dispatch
import Synchronization
import TernNet

#if canImport(Glibc)
import Glibc
#endif

/// Runs the expensive part of requests (produce batches that must be decompressed to be
/// validated: a 100 KB gzip batch can inflate to 64 MiB, ~0.2 s of CPU) off the network queues,
/// so that one client's bombs never delay another client's requests.
///
/// Bounded: at most `concurrency` jobs run at once, each on a worker queue of its own (plain
/// serial queues, so Dispatch gives each a thread rather than borrowing the network queues').
/// Fair: connections take turns, round-robin, and each runs at most one job at a time, so a
/// connection's jobs queue behind each other and never ahead of another connection's. In order:
/// a connection's jobs run in submission order, one after the other.
final class ValidationPool: Sendable {
    /// A unit of work; it answers its own request.
    typealias Job = @Sendable () -> Void

    /// A job and the request bytes it holds (charged to the memory pool until it is done).
    private struct Entry {
        var job: Job
        var bytes: Int
    }

    private struct Lane {
        var pending = Deque<Entry>()
        var running = false
    }

    private struct State {
        /// Connections with a job pending or running.
        var lanes: [UInt64: Lane] = [:]
        /// Connections whose next job may start (pending, none running), in turn order.
        var ready = Deque<UInt64>()
        /// Workers waiting for work.
        var idle: [Int]
    }

    private let state: Mutex<State>
    private let workers: [DispatchQueue]
    /// Where queued jobs' request bytes are counted (`queued.max.request.bytes`), if anywhere.
    private let memory: RequestMemoryPool?

    /// - Parameters:
    ///   - concurrency: jobs that may run at once (at least 1).
    ///   - memory: charged with each job's bytes from submission until it has run or is dropped.
    init(concurrency: Int, memory: RequestMemoryPool? = nil) {
        self.memory = memory
        let count = max(concurrency, 1)
        workers = (0..<count).map { DispatchQueue(label: "tern.validation.\($0)") }
        state = Mutex(State(idle: Array((0..<count).reversed())))
    }

    /// One fewer than the cores, at least one: a core is left for the network queues.
    static var defaultConcurrency: Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1, 1) }

    /// Whether `connection` has a job pending or running: its next produce must queue behind it
    /// so that its appends stay in request order.
    func hasWork(for connection: UInt64) -> Bool {
        state.withLock { $0.lanes[connection] != nil }
    }

    /// Queues `job` behind `connection`'s other jobs; `bytes` is what its request holds.
    func submit(_ connection: UInt64, bytes: Int = 0, _ job: @escaping Job) {
        memory?.charge(bytes)
        let worker: Int? = state.withLock { state in
            var lane = state.lanes[connection] ?? Lane()
            lane.pending.append(Entry(job: job, bytes: bytes))
            if !lane.running && lane.pending.count == 1 { state.ready.append(connection) }
            state.lanes[connection] = lane
            return state.idle.popLast()
        }
        if let worker { workers[worker].async { self.work(worker) } }
    }

    /// Drops the jobs `connection` has not started (it closed; nobody reads their answers).
    func discard(_ connection: UInt64) {
        let dropped: Deque<Entry> = state.withLock { state in
            guard var lane = state.lanes[connection] else { return [] }
            let dropped = lane.pending
            lane.pending.removeAll()
            if lane.running {
                state.lanes[connection] = lane
            } else {
                state.lanes[connection] = nil
                state.ready.removeAll { $0 == connection }
            }
            return dropped
        }
        // Released outside the lock: they may hold large request buffers.
        let bytes = dropped.reduce(0) { $0 + $1.bytes }
        if bytes > 0 { memory?.release(bytes) }
    }

    /// Connections with work pending or running (tests and diagnostics).
    var busyConnections: Int { state.withLock { $0.lanes.count } }

    /// On worker `index`: runs jobs, taking turns between connections, until none is ready.
    private func work(_ index: Int) {
        var finished: UInt64?
        while true {
            let next: (UInt64, Entry)? = state.withLock { state in
                if let connection = finished, var lane = state.lanes[connection] {
                    lane.running = false
                    if lane.pending.isEmpty {
                        state.lanes[connection] = nil
                    } else {
                        state.lanes[connection] = lane
                        state.ready.append(connection)
                    }
                }
                while let connection = state.ready.popFirst() {
                    guard var lane = state.lanes[connection], let entry = lane.pending.popFirst() else { continue }
                    lane.running = true
                    state.lanes[connection] = lane
                    return (connection, entry)
                }
                state.idle.append(index)
                return nil
            }
            guard let (connection, entry) = next else { return }
            entry.job()
            if entry.bytes > 0 { memory?.release(entry.bytes) }
            finished = connection
        }
    }
}
