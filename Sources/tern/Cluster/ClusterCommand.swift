import ArgumentParser
import TernClient

/// `tern cluster info|health`.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Inspect the cluster.",
        subcommands: [ClusterInfoCommand.self, ClusterHealthCommand.self])
}

/// `tern cluster info [--json]`: brokers, controller, listeners, version, uptime.
struct ClusterInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the brokers, the controller, the version and the uptime.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON: {clusterId, controllerId, brokers: [{nodeId, host, port}], version, uptimeMs}.")
    var json = false

    @Option(help: "Fail when the cluster has not answered within this many milliseconds.")
    var timeoutMs = 5000

    func validate() throws {
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
    }

    struct Output: Encodable {
        struct Broker: Encodable {
            var nodeId: Int32
            var host: String
            var port: Int
        }
        var clusterId: String
        var controllerId: Int32
        var brokers: [Broker]
        var version: String
        var uptimeMs: Int64
    }

    func run() async throws {
        let configuration = try global.clientConfiguration(timeout: .milliseconds(timeoutMs))
        let cluster = try await describe(configuration, timeoutMs: timeoutMs)
        if json {
            try JSONOutput.print(
                Output(
                    clusterId: cluster.clusterId, controllerId: cluster.controllerId,
                    brokers: cluster.brokers.map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port) },
                    version: cluster.brokerVersion, uptimeMs: cluster.uptimeMs))
            return
        }
        print("Cluster: \(cluster.clusterId)  Controller: \(cluster.controllerId)  Version: \(cluster.brokerVersion)  "
            + "Uptime: \(Self.format(uptimeMs: cluster.uptimeMs))\n")
        var table = Table(["NODE", "LISTENER"])
        for broker in cluster.brokers {
            table.append(["\(broker.nodeId)", "PLAINTEXT://\(broker.host):\(broker.port)"])
        }
        print(table.render(), terminator: "")
    }

    static func format(uptimeMs: Int64) -> String {
        let seconds = uptimeMs / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        return "\(seconds / 3600)h\((seconds % 3600) / 60)m"
    }
}

/// Connects and describes the cluster, all within `timeoutMs`.
/// - Throws: ``CLIFailure`` with the SDK's reason, or naming the bootstrap list and the limit.
private func describe(_ configuration: ClientConfiguration, timeoutMs: Int) async throws -> ClusterDescription {
    let brokers = configuration.bootstrap.joined(separator: ",")
    return try await CommandDeadline.run(milliseconds: timeoutMs, "no answer from \(brokers)") {
        try await CLIFailure.wrap {
            let client = try await TernClient(configuration: configuration)
            let cluster = try await client.admin.describeCluster()
            await client.close()
            return cluster
        }
    }
}

/// `tern cluster health`: exit 0 when a broker answers the handshake and metadata (what a
/// container health check or a load balancer probe calls), within `--timeout-ms`.
struct ClusterHealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 when the broker serves requests; non-zero with the reason otherwise.",
        discussion: """
            The whole check (connect, handshake, metadata) is bounded by --timeout-ms (default 5000), \
            so a broker that accepts connections but does not answer (stopped, overloaded) fails the \
            check in that time.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Fail when the broker has not answered within this many milliseconds.")
    var timeoutMs = 5000

    func validate() throws {
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() async throws {
        let configuration = try global.clientConfiguration(clientId: "tern-health", timeout: .milliseconds(timeoutMs))
        let cluster = try await describe(configuration, timeoutMs: timeoutMs)
        print("ok: \(cluster.brokers.count) broker\(cluster.brokers.count == 1 ? "" : "s"), version \(cluster.brokerVersion)")
    }
}
