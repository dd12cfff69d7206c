import ArgumentParser
import TernClient

/// `tern group reset-offsets GROUP --topic T (--to-earliest | --to-latest | --to-offset N | --to-timestamp MS)`.
struct GroupResetOffsetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-offsets",
        abstract: "Move the committed offsets of a group that has no active members.",
        discussion: """
            Exactly one of --to-earliest, --to-latest, --to-offset N (clamped into the log) or \
            --to-timestamp MS (first record at or after MS ms since the epoch; the log end if none). \
            Fails with NON_EMPTY_GROUP while members are active: stop them first.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The group id.")
    var group: String

    @Option(help: "The topic whose offsets move.")
    var topic: String

    @Option(help: "Reset only this partition (repeatable; default: all).")
    var partition: [Int32] = []

    @Flag(help: "To the log start offset.")
    var toEarliest = false

    @Flag(help: "To the log end offset.")
    var toLatest = false

    @Option(help: "To this offset.")
    var toOffset: Int64?

    @Option(help: "To the first offset at or after this timestamp (ms since the epoch).")
    var toTimestamp: Int64?

    @Flag(help: "Show the new offsets without storing them.")
    var dryRun = false

    func validate() throws {
        let chosen = [toEarliest, toLatest, toOffset != nil, toTimestamp != nil].filter { $0 }.count
        guard chosen == 1 else {
            throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-offset, --to-timestamp")
        }
        if let toOffset, toOffset < 0 { throw ValidationError("--to-offset must not be negative") }
        if let toTimestamp, toTimestamp < 0 { throw ValidationError("--to-timestamp must not be negative") }
    }

    var target: OffsetResetTarget {
        if toEarliest { return .earliest }
        if toLatest { return .latest }
        if let toOffset { return .offset(toOffset) }
        return .timestamp(toTimestamp ?? 0)
    }

    func run() async throws {
        let client = try await global.connect()
        let offsets = try await CLIFailure.wrap {
            try await client.admin.resetGroupOffsets(
                group: group, topic: topic, partitions: partition.isEmpty ? nil : partition, to: target, dryRun: dryRun)
        }
        await client.close()
        var table = Table(["TOPIC", "PARTITION", "NEW-OFFSET"])
        for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            table.append([tp.topic, "\(tp.partition)", "\(offset)"])
        }
        print(table.render(), terminator: "")
        if dryRun { print("(dry run: nothing stored)") }
    }
}
