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
        let client = try await global.connect()
        let cluster = try await CLIFailure.wrap { try await client.admin.describeCluster() }
        await client.close()
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

/// `tern cluster health`: exit 0 when a broker answers the handshake and metadata (what a
/// container health check or a load balancer probe calls).
struct ClusterHealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 when the broker serves requests; non-zero with the reason otherwise.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let client = try await global.connect(clientId: "tern-health")
        let cluster = try await CLIFailure.wrap { try await client.admin.describeCluster() }
        await client.close()
        print("ok: \(cluster.brokers.count) broker\(cluster.brokers.count == 1 ? "" : "s"), version \(cluster.brokerVersion)")
    }
}
