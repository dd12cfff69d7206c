import ArgumentParser

/// `tern perf`: benchmarks through the SDK, like kafka-producer-perf-test,
/// kafka-consumer-perf-test and Kafka's end-to-end latency tool.
struct PerfCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perf",
        abstract: "Measure produce and consume throughput and end-to-end latency through the SDK.",
        subcommands: [
            PerfProduceCommand.self, PerfConsumeCommand.self, PerfEndToEndCommand.self, PerfConnectCommand.self,
            PerfFailoverCommand.self,
        ])
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
