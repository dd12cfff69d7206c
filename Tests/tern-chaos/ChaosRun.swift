import Foundation
import Synchronization
import TernClient
import TernTestSupport

/// One chaos run: a fresh proxied 3-node cluster, an RF=3 `min.insync.replicas=2` topic, the
/// workload under seeded faults, recovery, the final read and the check.
struct ChaosRun {
    let options: ChaosOptions
    let seed: UInt64

    struct Result {
        var faults: [ChaosFault] = []
        var verdict = ChaosVerdict()
        /// Why the run could not finish (the cluster did not form or recover, a restart failed).
        var error: String?
        var keptDirectory: String?
    }

    static let sessionTimeoutMs = 3000
    /// Cluster starts per run when a node's port was taken (``run()``).
    static let startAttempts = 3
    /// Short timeouts so faults are noticed within seconds (the defaults are Kafka's).
    static let settings = [
        "broker.session.timeout.ms": "\(sessionTimeoutMs)", "broker.heartbeat.interval.ms": "300",
        "controller.quorum.election.timeout.ms": "500", "controller.quorum.fetch.timeout.ms": "1000",
    ]

    func run() async -> Result {
        var result = Result()
        let settings = Self.settings.merging(options.settings) { _, new in new }
        var directory = TemporaryDirectory("tern-chaos-\(seed)")
        var cluster: ClusterProcesses?
        // A free port picked for a node can be taken by another process before the node binds it
        // (a shared machine: session 19 lost 2 of 100 runs that way). Only that is retried, on
        // fresh ports, a bounded number of times; any other start failure fails the run.
        for attempt in 1...Self.startAttempts {
            do {
                let path = directory.path
                cluster = try await onThread {
                    try ClusterProcesses(count: 3, directory: path, settings: settings, proxied: true)
                }
                break
            } catch {
                directory.remove()
                guard attempt < Self.startAttempts, "\(error)".contains("Address already in use") else {
                    result.error = "the cluster did not start: \(error)"
                    return result
                }
                say("  seed=\(seed): a port was taken before a node bound it; starting the cluster again on new ports")
                directory = TemporaryDirectory("tern-chaos-\(seed)")
            }
        }
        guard let cluster else {
            result.error = "the cluster did not start"
            directory.remove()
            return result
        }
        do {
            try await drive(cluster, &result)
        } catch {
            result.error = "\(error)"
        }
        if result.error != nil || !result.verdict.isValid || options.keep {
            for node in cluster.nodes {
                try? cluster.log(node.nodeId).write(
                    toFile: "\(directory.path)/node-\(node.nodeId).log", atomically: false, encoding: .utf8)
            }
            result.keptDirectory = directory.path
        }
        await onThread { cluster.stopAll() }
        if result.keptDirectory == nil { directory.remove() }
        return result
    }

    private func drive(_ cluster: ClusterProcesses, _ result: inout Result) async throws {
        let bootstrap = cluster.nodes.map(\.clientAddress)
        let topic = "chaos-\(seed)"
        let admin = try await ChaosAdmin(bootstrap: bootstrap, topic: topic)
        do {
            try await drive(cluster, admin, &result)
            await admin.close()
        } catch {
            await admin.close()
            throw error
        }
    }

    private func drive(_ cluster: ClusterProcesses, _ admin: ChaosAdmin, _ result: inout Result) async throws {
        let bootstrap = cluster.nodes.map(\.clientAddress)
        try await admin.waitForBrokers(3, seconds: 60)
        try await admin.createTopic(partitions: options.partitions, seconds: 30)
        try await admin.waitForLeaders(partitions: options.partitions, seconds: 30)

        let workload = ChaosWorkload(
            topic: admin.topic, tag: "\(seed)", partitions: options.partitions, recordsPerSecond: options.rate,
            bootstrap: bootstrap)
        let leaders = Mutex<[Int32: Int32]>([:])
        let producing = Task { try await workload.produce() }
        let consuming = Task { await workload.consume() }
        let polling = Task {
            while !Task.isCancelled {
                if let seen = await admin.leaders() { leaders.withLock { $0 = seen } }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        try await Task.sleep(for: .seconds(2))
        let injector = ChaosFaultInjector(
            cluster: cluster, seed: seed, sessionTimeoutMs: Self.sessionTimeoutMs, leaders: { leaders.withLock { $0 } })
        let seconds = options.faultSeconds
        let faults = options.faults
        await onThread {
            if faults { injector.run(seconds: seconds) } else { usleep(useconds_t(seconds * 1_000_000)) }
            injector.recover()
        }
        result.faults = injector.injected
        polling.cancel()
        if let error = injector.errors.first {
            workload.stop()
            _ = try? await producing.value
            await consuming.value
            throw ChaosRunError(error)
        }
        // Healed: let the cluster settle and the producer get through, then stop and read back.
        let recovered = (try? await admin.waitForLeaders(partitions: options.partitions, seconds: 60)) != nil
        try await Task.sleep(for: .seconds(3))
        workload.stop()
        try await producing.value
        await consuming.value
        guard recovered else { throw ChaosRunError("partitions without a leader 60 s after the faults ended") }
        guard await workload.readFinal(until: .now + .seconds(60)) else {
            throw ChaosRunError("the final read did not finish within 60 s")
        }
        result.verdict = ChaosHistoryChecker.check(workload.snapshot)
    }
}

struct ChaosRunError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs blocking work (starting and stopping processes, sleeping between faults) on its own
/// thread, so the async workload keeps the cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

func onThread(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { continuation in
        Thread {
            body()
            continuation.resume()
        }.start()
    }
}
