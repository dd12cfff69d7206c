import Foundation
import Synchronization
import TernTestSupport

/// One injected fault: what, on which node, for how long.
struct ChaosFault: CustomStringConvertible, Sendable {
    enum Kind: String, CaseIterable, Sendable {
        /// kill -9, down for the hold, then started again.
        case kill = "kill9"
        /// SIGSTOP for the hold (past the session timeout), then SIGCONT.
        case pause
        /// Every link to and from the node closed (and refused) for the hold.
        case isolateCut = "isolate-cut"
        /// Every link to and from the node silent (frames dropped) for the hold.
        case isolateBlackhole = "isolate-blackhole"
        /// SIGTERM, then started again at once.
        case restart
    }

    var kind: Kind
    var node: Int32
    /// Whether the node was a partition leader when chosen.
    var wasLeader: Bool
    var holdMs: Int
    /// Seconds from the start of the fault phase to the fault.
    var at = 0.0

    var description: String {
        "\(kind.rawValue) n\(node)\(wasLeader ? "(leader)" : "") \(holdMs)ms @\((at * 10).rounded() / 10)s"
    }
}

/// Injects random faults into a proxied cluster from a seeded generator until a deadline: a calm
/// gap, a fault on a partition leader (most often) or any node, held, then undone. Runs on its own
/// thread, because starting and stopping processes blocks.
final class ChaosFaultInjector: @unchecked Sendable {
    // @unchecked: `generator` and `injected` are touched only by the injecting thread until
    // `run` returns; `cluster` is driven only from that thread while it runs.
    private let cluster: ClusterProcesses
    private var generator: SeededGenerator
    private let sessionTimeoutMs: Int
    /// Partition → leader, as last seen by the workload's poller.
    private let leaders: @Sendable () -> [Int32: Int32]
    private(set) var injected: [ChaosFault] = []
    private(set) var errors: [String] = []

    init(
        cluster: ClusterProcesses, seed: UInt64, sessionTimeoutMs: Int,
        leaders: @escaping @Sendable () -> [Int32: Int32]
    ) {
        self.cluster = cluster
        generator = SeededGenerator(seed: seed)
        self.sessionTimeoutMs = sessionTimeoutMs
        self.leaders = leaders
    }

    /// Injects faults until `seconds` have passed (a fault under way is finished and undone).
    func run(seconds: Double) {
        let start = Date()
        let end = start.addingTimeInterval(seconds)
        while Date() < end {
            sleepMs(Int.random(in: 500...2000, using: &generator))
            guard Date() < end else { break }
            var fault = choose()
            fault.at = Date().timeIntervalSince(start)
            injected.append(fault)
            apply(fault)
        }
    }

    private func choose() -> ChaosFault {
        let nodeIds = cluster.nodes.map(\.nodeId)
        let known = leaders()
        let wantsLeader = Int.random(in: 0..<10, using: &generator) < 7
        let partitions = known.keys.sorted()
        var node = nodeIds[Int.random(in: 0..<nodeIds.count, using: &generator)]
        var wasLeader = false
        if wantsLeader, !partitions.isEmpty {
            let partition = partitions[Int.random(in: 0..<partitions.count, using: &generator)]
            if let leader = known[partition], nodeIds.contains(leader) {
                node = leader
                wasLeader = true
            }
        }
        let kind = Kind.allCases[Int.random(in: 0..<Kind.allCases.count, using: &generator)]
        let hold: Int
        switch kind {
        case .kill: hold = Int.random(in: 1000...4000, using: &generator)
        case .pause, .isolateCut, .isolateBlackhole:
            hold = sessionTimeoutMs + Int.random(in: 500...3000, using: &generator)
        case .restart: hold = 0
        }
        return ChaosFault(kind: kind, node: node, wasLeader: wasLeader, holdMs: hold)
    }
    private typealias Kind = ChaosFault.Kind

    private func apply(_ fault: ChaosFault) {
        switch fault.kind {
        case .kill:
            cluster.kill9(fault.node)
            sleepMs(fault.holdMs)
            restart(fault.node)
        case .pause:
            cluster.pause(fault.node)
            sleepMs(fault.holdMs)
            cluster.resume(fault.node)
        case .isolateCut, .isolateBlackhole:
            cluster.isolate(fault.node, fault: fault.kind == .isolateCut ? .cut : .blackhole)
            sleepMs(fault.holdMs)
            cluster.heal()
        case .restart:
            cluster.stop(fault.node)
            restart(fault.node)
        }
    }

    private func restart(_ node: Int32) {
        do {
            try cluster.start(node)
        } catch {
            errors.append("restart of node \(node) failed: \(error)")
        }
    }

    /// Undoes whatever is still in effect: heals the network, resumes and starts every node.
    func recover() {
        cluster.heal()
        for node in cluster.nodes {
            cluster.resume(node.nodeId)
            if cluster.process(node.nodeId)?.isRunning != true { restart(node.nodeId) }
        }
    }

    private func sleepMs(_ ms: Int) { if ms > 0 { usleep(useconds_t(ms) * 1000) } }
}
