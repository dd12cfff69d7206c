import ArgumentParser
import TernClient

/// `tern cluster info|quorum|health`.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Inspect the cluster.",
        subcommands: [ClusterInfoCommand.self, ClusterQuorumCommand.self, ClusterHealthCommand.self])
}

/// What `tern cluster info` gathers: the members from the metadata log, and the answering
/// broker's version and uptime.
struct ClusterView {
    var membership: ClusterMembership
    var version: String
    var uptimeMs: Int64
    /// Under-replicated and offline partitions (asked for by `tern cluster health` only).
    var partitions: PartitionAvailability?
}

/// `tern cluster info [--json]`: every node (id, listeners, roles, alive/fenced), the active
/// controller, the cluster id, version and uptime.
struct ClusterInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show every node (listeners, roles, alive or fenced), the active controller, the version and uptime.")

    @OptionGroup var global: GlobalOptions

    @Flag(
        help: """
            Print JSON: {clusterId, controllerId, brokers: [{nodeId, host, port, roles, fenced, listeners}], \
            version, uptimeMs}; controllerId is -1 while the quorum has no leader.
            """)
    var json = false

    @OptionGroup var deadline: ClusterDeadlineOptions
    var timeoutMs: Int { deadline.timeoutMs }

    struct Output: Encodable {
        struct Broker: Encodable {
            var nodeId: Int32
            var host: String
            var port: Int
            var roles: [String]
            var fenced: Bool
            var listeners: [String]
        }
        var clusterId: String?
        var controllerId: Int32
        var brokers: [Broker]
        var version: String
        var uptimeMs: Int64
    }

    func run() async throws {
        let configuration = try global.clientConfiguration(timeout: .milliseconds(timeoutMs))
        let view = try await describe(configuration, timeoutMs: timeoutMs)
        let nodes = view.membership.nodes
        if json {
            try JSONOutput.print(
                Output(
                    clusterId: view.membership.clusterId, controllerId: view.membership.controllerId ?? -1,
                    brokers: nodes.map { node in
                        let client = node.clientListener
                        return .init(
                            nodeId: node.nodeId, host: client?.host ?? "", port: client?.port ?? 0,
                            roles: node.roleNames,
                            fenced: node.fenced, listeners: node.listeners.map { "\($0.name)://\($0.host):\($0.port)" })
                    },
                    version: view.version, uptimeMs: view.uptimeMs))
            return
        }
        let controller = view.membership.controllerId.map(String.init) ?? "none (no quorum leader)"
        print(
            "Cluster: \(view.membership.clusterId ?? "(not yet written)")  Controller: \(controller)  "
                + "Version: \(view.version)  Uptime: \(Self.format(uptimeMs: view.uptimeMs))\n")
        var table = Table(["NODE", "ROLES", "STATE", "LISTENERS"])
        for node in nodes {
            var roles = node.roleNames.joined(separator: ",")
            if node.nodeId == view.membership.controllerId { roles += " (active controller)" }
            table.append([
                "\(node.nodeId)", roles, node.fenced ? "fenced" : "alive",
                node.listeners.map { "\($0.name)://\($0.host):\($0.port)" }.joined(separator: ","),
            ])
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

extension ClusterMembership.Node {
    /// `broker`, `controller`.
    var roleNames: [String] { (isBroker ? ["broker"] : []) + (isController ? ["controller"] : []) }
    /// The PLAINTEXT listener clients connect to.
    var clientListener: Listener? { listeners.first { $0.name == "PLAINTEXT" } }
}

/// Connects and describes the cluster, all within `timeoutMs`.
/// - Throws: ``CLIFailure`` with the SDK's reason, or naming the bootstrap list and the limit.
private func describe(
    _ configuration: ClientConfiguration, timeoutMs: Int, partitions: Bool = false
) async throws -> ClusterView {
    let brokers = configuration.bootstrap.joined(separator: ",")
    return try await CommandDeadline.run(milliseconds: timeoutMs, "no answer from \(brokers)") {
        try await CLIFailure.wrap {
            let client = try await TernClient(configuration: configuration)
            do {
                let info = try await client.admin.describeCluster()
                let membership = try await client.admin.describeClusterMembership()
                let availability = partitions ? try await client.admin.partitionAvailability() : nil
                await client.close()
                return ClusterView(
                    membership: membership, version: info.brokerVersion, uptimeMs: info.uptimeMs,
                    partitions: availability)
            } catch {
                await client.close()
                throw error
            }
        }
    }
}

/// The quorum as its leader sees it (only the leader knows every voter's progress): asks the
/// bootstrap broker, then the leader it names through its client listener.
private func describeQuorum(
    _ configuration: ClientConfiguration, timeoutMs: Int
) async throws -> (QuorumDescription, ClusterMembership) {
    let brokers = configuration.bootstrap.joined(separator: ",")
    return try await CommandDeadline.run(milliseconds: timeoutMs, "no answer from \(brokers)") {
        try await CLIFailure.wrap {
            let client = try await TernClient(configuration: configuration)
            let first: QuorumDescription
            let membership: ClusterMembership
            do {
                first = try await client.admin.describeQuorum()
                membership = try await client.admin.describeClusterMembership()
                await client.close()
            } catch {
                await client.close()
                throw error
            }
            guard let leader = first.leaderId, leader != first.nodeId,
                let address = membership.nodes.first(where: { $0.nodeId == leader })?.clientListener
            else { return (first, membership) }
            var leaderConfiguration = configuration
            leaderConfiguration.bootstrap = ["\(address.host):\(address.port)"]
            // The leader unreachable from here: its follower's view is still worth showing.
            guard let leaderClient = try? await TernClient(configuration: leaderConfiguration) else {
                return (first, membership)
            }
            let fromLeader = try? await leaderClient.admin.describeQuorum()
            await leaderClient.close()
            return (fromLeader ?? first, membership)
        }
    }
}

/// `tern cluster quorum [--json]`: the voters of the metadata quorum, like
/// `kafka-metadata-quorum describe --status --replication`.
struct ClusterQuorumCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quorum",
        abstract:
            "Show the metadata quorum: leader, epoch, high watermark, and each voter's and observer's log end offset, lag and last contact."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(
        help: """
            Print JSON: {leaderId, epoch, highWatermark, answeredBy, voters: [{nodeId, leader, logEndOffset, lag, \
            lastContactMs}], observers: [same fields]}; unknown values are null.
            """)
    var json = false

    @OptionGroup var deadline: ClusterDeadlineOptions
    var timeoutMs: Int { deadline.timeoutMs }

    struct Output: Encodable {
        struct Voter: Encodable {
            var nodeId: Int32
            var leader: Bool
            var logEndOffset: Int64?
            var lag: Int64?
            var lastContactMs: Int64?
        }
        var leaderId: Int32?
        var epoch: Int64
        var highWatermark: Int64
        var answeredBy: Int32
        var voters: [Voter]
        /// Broker-only nodes that fetch the log without voting.
        var observers: [Voter]
    }

    func run() async throws {
        let configuration = try global.clientConfiguration(timeout: .milliseconds(timeoutMs))
        let (quorum, _) = try await describeQuorum(configuration, timeoutMs: timeoutMs)
        let leaderEnd = quorum.voters.first { $0.nodeId == quorum.leaderId }?.logEndOffset
        let row = { (voter: QuorumDescription.Voter) in
            Output.Voter(
                nodeId: voter.nodeId, leader: voter.nodeId == quorum.leaderId, logEndOffset: voter.logEndOffset,
                lag: voter.logEndOffset.flatMap { end in leaderEnd.map { max(0, $0 - end) } },
                lastContactMs: voter.lastContactAgeMs)
        }
        let voters = quorum.voters.map(row)
        let observers = quorum.observers.map(row)
        if json {
            try JSONOutput.print(
                Output(
                    leaderId: quorum.leaderId, epoch: quorum.epoch, highWatermark: quorum.highWatermark,
                    answeredBy: quorum.nodeId, voters: voters, observers: observers))
            return
        }
        print(
            "Leader: \(quorum.leaderId.map(String.init) ?? "none")  Epoch: \(quorum.epoch)  "
                + "High watermark: \(quorum.highWatermark)\n")
        var table = Table(["NODE", "STATUS", "LOG END OFFSET", "LAG", "LAST CONTACT"])
        for voter in voters {
            table.append([
                "\(voter.nodeId)", voter.leader ? "leader" : quorum.leaderId == nil ? "voter" : "follower",
                voter.logEndOffset.map(String.init) ?? "?",
                voter.lag.map(String.init) ?? "?", voter.lastContactMs.map { "\($0) ms ago" } ?? "?",
            ])
        }
        for observer in observers {
            table.append([
                "\(observer.nodeId)", "observer", observer.logEndOffset.map(String.init) ?? "?",
                observer.lag.map(String.init) ?? "?", observer.lastContactMs.map { "\($0) ms ago" } ?? "?",
            ])
        }
        print(table.render(), terminator: "")
    }
}

/// `tern cluster health`: exit 0 when a broker answers and the cluster is whole — the metadata
/// quorum has a leader, no registered broker is fenced, every partition has a live leader and a
/// full in-sync replica set; otherwise non-zero naming the problem.
struct ClusterHealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract:
            "Exit 0 when the cluster serves requests with every partition led and fully in sync; non-zero with the reason otherwise.",
        discussion: """
            Fails when no broker answers, when the metadata quorum has no leader, when a broker is \
            fenced, or when a partition is offline (no live leader) or under-replicated (fewer in-sync \
            replicas than replicas), naming up to 5 of them. The whole check is bounded by --timeout-ms \
            (default 5000), so a broker that accepts connections but does not answer (stopped, \
            overloaded) fails the check in that time.
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var deadline: ClusterDeadlineOptions
    var timeoutMs: Int { deadline.timeoutMs }

    func run() async throws {
        let configuration = try global.clientConfiguration(clientId: "tern-health", timeout: .milliseconds(timeoutMs))
        let view = try await describe(configuration, timeoutMs: timeoutMs, partitions: true)
        let membership = view.membership
        let partitions = view.partitions ?? PartitionAvailability(underReplicated: [], offline: [])
        var problems: [String] = []
        if membership.controllerId == nil {
            problems.append("the metadata quorum has no leader (no active controller)")
        }
        let fenced = membership.nodes.filter { $0.isBroker && $0.fenced }.map(\.nodeId)
        if !fenced.isEmpty {
            problems.append(
                "broker\(fenced.count == 1 ? "" : "s") \(fenced.map(String.init).joined(separator: ", ")) fenced")
        }
        if membership.nodes.isEmpty { problems.append("no broker is registered") }
        if !partitions.offline.isEmpty {
            problems.append("\(Self.count(partitions.offline, "offline partition"))")
        }
        if !partitions.underReplicated.isEmpty {
            problems.append("\(Self.count(partitions.underReplicated, "under-replicated partition"))")
        }
        guard problems.isEmpty else {
            throw CLIFailure("unhealthy: " + problems.joined(separator: "; "))
        }
        let brokers = membership.nodes.filter(\.isBroker).count
        print(
            "ok: \(brokers) broker\(brokers == 1 ? "" : "s"), controller \(membership.controllerId ?? -1), version \(view.version), "
                + "0 under-replicated, 0 offline partitions"
        )
    }

    /// `2 offline partitions (orders-0, orders-3)`, naming at most 5.
    static func count(_ partitions: [TopicPartition], _ what: String) -> String {
        let named = partitions.prefix(5).map(\.description).joined(separator: ", ")
        let more = partitions.count > 5 ? ", …" : ""
        return "\(partitions.count) \(what)\(partitions.count == 1 ? "" : "s") (\(named)\(more))"
    }
}

/// `--timeout-ms`, shared by the cluster commands: the whole command (connect, ask, answer) is
/// bounded by it, so a broker that accepts connections but does not answer fails in that time.
struct ClusterDeadlineOptions: ParsableArguments {
    @Option(help: "Fail when the cluster has not answered within this many milliseconds.")
    var timeoutMs = 5000

    func validate() throws {
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
    }
}
