import ArgumentParser
import TernClient

/// `tern group describe GROUP [--json]`.
struct GroupDescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show a group's state, members, and per partition its committed offset, log end offset and lag.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The group id.")
    var group: String

    @Flag(help: "Print JSON: {groupId, state, groupEpoch, members: [...], partitions: [...]}.")
    var json = false

    struct Output: Encodable {
        struct Member: Encodable {
            var memberId: String
            var instanceId: String?
            var clientId: String
            var clientHost: String
            var memberEpoch: Int32
            var subscribedTopics: [String]
            var assignment: [Assigned]
        }
        struct Assigned: Encodable {
            var topic: String
            var partition: Int32
        }
        struct Partition: Encodable {
            var topic: String
            var partition: Int32
            var committedOffset: Int64?
            var logEndOffset: Int64?
            var lag: Int64?
            var memberId: String?
        }
        var groupId: String
        var state: String
        var groupEpoch: Int32
        var members: [Member]
        var partitions: [Partition]
    }

    func run() async throws {
        let client = try await global.connect()
        let d = try await CLIFailure.wrap { try await client.admin.describeGroup(group) }
        await client.close()
        if json {
            try JSONOutput.print(
                Output(
                    groupId: d.groupId, state: d.state, groupEpoch: d.groupEpoch,
                    members: d.members.map { m in
                        .init(
                            memberId: m.memberId, instanceId: m.instanceId, clientId: m.clientId,
                            clientHost: m.clientHost,
                            memberEpoch: m.memberEpoch, subscribedTopics: m.subscribedTopics,
                            assignment: m.assignment.map { .init(topic: $0.topic, partition: $0.partition) })
                    },
                    partitions: d.partitions.map { p in
                        .init(
                            topic: p.topic, partition: p.partition, committedOffset: p.committedOffset,
                            logEndOffset: p.logEndOffset, lag: p.lag, memberId: p.memberId)
                    }))
            return
        }
        var text = "Group: \(d.groupId)  State: \(d.state)  Epoch: \(d.groupEpoch)  Members: \(d.members.count)\n\n"
        var partitions = Table(["TOPIC", "PARTITION", "COMMITTED-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER-ID"])
        for p in d.partitions {
            partitions.append([
                p.topic, "\(p.partition)", p.committedOffset.map { "\($0)" } ?? "-",
                p.logEndOffset.map { "\($0)" } ?? "-",
                p.lag.map { "\($0)" } ?? "-", p.memberId ?? "-",
            ])
        }
        text += partitions.render()
        if !d.members.isEmpty {
            var members = Table(["MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST", "EPOCH", "ASSIGNMENT"])
            for m in d.members {
                members.append([
                    m.memberId, m.instanceId ?? "-", m.clientId, m.clientHost, "\(m.memberEpoch)",
                    m.assignment.map(\.description).joined(separator: ","),
                ])
            }
            text += "\n" + members.render()
        }
        print(text, terminator: "")
    }
}
