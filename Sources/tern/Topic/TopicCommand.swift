import ArgumentParser

/// `tern topic ...`.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic",
        abstract: "Create, list, describe and delete topics.",
        subcommands: [
            TopicCreateCommand.self, TopicListCommand.self, TopicDescribeCommand.self, TopicDeleteCommand.self,
        ])

    /// Accepted before the subcommand too (`tern --bootstrap HOST:PORT topic list`); the
    /// subcommand receives the value.
    @OptionGroup var global: GlobalOptions
}
