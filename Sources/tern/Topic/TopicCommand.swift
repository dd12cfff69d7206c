import ArgumentParser

/// `tern topic ...`.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic",
        abstract: "Create, list, describe, alter, delete and reassign topics.",
        subcommands: [
            TopicCreateCommand.self, TopicListCommand.self, TopicDescribeCommand.self, TopicAlterCommand.self,
            TopicDeleteCommand.self, TopicReassignCommand.self,
        ])

    /// Accepted before the subcommand too (`tern --bootstrap HOST:PORT topic list`); the
    /// subcommand receives the value.
    @OptionGroup var global: GlobalOptions
}
