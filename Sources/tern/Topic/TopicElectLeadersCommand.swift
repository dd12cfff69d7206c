import ArgumentParser
import TernClient

/// `tern topic elect-leaders [NAME] [--partition P] [--unclean] [--json]`.
struct TopicElectLeadersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elect-leaders",
        abstract: "Move leadership back to each partition's preferred replica.",
        discussion: """
            The active controller makes each partition's preferred (first) replica its leader where \
            that replica is live and in sync. Without NAME, every partition of every topic; the output \
            then lists only partitions that moved or could not. With --unclean, a partition left \
            without a live in-sync replica gets any live replica instead (it may lack acknowledged \
            records). Exits 1 when a partition asked for could not be elected.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic (default: every topic).")
    var name: String?

    @Option(help: "Only this partition of the topic.")
    var partition: Int32?

    @Flag(help: "Unclean election: any live replica of a partition without a live in-sync one.")
    var unclean = false

    @Flag(help: "Print JSON: [{topic, partition, result, message}].")
    var json = false

    struct Entry: Encodable {
        var topic: String
        var partition: Int32
        var result: String
        var message: String?
    }

    func validate() throws {
        if partition != nil && name == nil { throw ValidationError("--partition needs a topic NAME") }
        if let partition, partition < 0 { throw ValidationError("--partition must be 0 or more") }
    }

    func run() async throws {
        let client = try await global.connect()
        let results = try await CLIFailure.wrap {
            try await client.admin.electLeaders(topic: name, partition: partition, unclean: unclean)
        }
        await client.close()
        // Already led as asked is not a failure: the partition is where it should be.
        let failed = results.contains { !$0.elected && $0.errorCode != .electionNotNeeded }
        if json {
            try JSONOutput.print(
                results.map {
                    Entry(topic: $0.topic, partition: $0.partition, result: $0.errorCode.name, message: $0.errorMessage)
                })
        } else if results.isEmpty {
            print("Every partition is led by its preferred replica.")
        } else {
            var table = Table(["TOPIC", "PARTITION", "RESULT", "DETAIL"])
            for result in results {
                table.append([
                    result.topic, "\(result.partition)", result.elected ? "ELECTED" : result.errorCode.name,
                    result.errorMessage ?? "",
                ])
            }
            print(table.render(), terminator: "")
        }
        if failed { throw ExitCode(1) }
    }
}
