import ArgumentParser
import TernClient

/// `tern group ...`.
struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "List, describe, reset the offsets of, and delete consumer groups.",
        subcommands: [
            GroupListCommand.self, GroupDescribeCommand.self, GroupResetOffsetsCommand.self, GroupDeleteCommand.self,
        ])

    @OptionGroup var global: GlobalOptions
}

/// `tern group list [--json]`.
struct GroupListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List consumer groups.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON: [{groupId, state, members}].")
    var json = false

    struct Entry: Encodable {
        var groupId: String
        var state: String
        var members: Int
    }

    func run() async throws {
        let client = try await global.connect()
        let groups = try await CLIFailure.wrap { try await client.admin.listGroups() }
        await client.close()
        if json {
            try JSONOutput.print(groups.map { Entry(groupId: $0.groupId, state: $0.state, members: $0.memberCount) })
            return
        }
        var table = Table(["GROUP", "STATE", "MEMBERS"])
        for group in groups { table.append([group.groupId, group.state, "\(group.memberCount)"]) }
        print(table.render(), terminator: "")
    }
}

/// `tern group delete GROUP`.
struct GroupDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a consumer group without active members, and its committed offsets.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The group id.")
    var group: String

    func run() async throws {
        let client = try await global.connect()
        try await CLIFailure.wrap { try await client.admin.deleteGroup(group) }
        await client.close()
        print("Deleted group \(group).")
    }
}
