import ArgumentParser

/// `tern topic ...`.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic",
        abstract: "Create, list, describe, alter and delete topics; elect their leaders.",
        subcommands: [
            TopicCreateCommand.self, TopicListCommand.self, TopicDescribeCommand.self, TopicAlterCommand.self,
            TopicDeleteCommand.self, TopicElectLeadersCommand.self,
        ])

    /// Accepted before the subcommand too (`tern --bootstrap HOST:PORT topic list`); the
    /// subcommand receives the value.
    @OptionGroup var global: GlobalOptions
}
