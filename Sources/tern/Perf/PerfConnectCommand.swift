import ArgumentParser
import TernClient

/// `tern perf connect`: how fast clients can open connections — TCP, TLS and SASL as the
/// `-X security.protocol` options say, then ApiVersions and Metadata — the cost of authentication
/// next to plaintext.
struct PerfConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Open N clients (connect, TLS/SASL, ApiVersions, Metadata) and report connections per second.",
        discussion: """
            Each client is a new TernClient: a TCP connection, the TLS handshake and SASL exchange \
            when configured (SCRAM salts the password on the client: PBKDF2 with the broker's \
            iteration count), ApiVersions and Metadata; it is closed at once. --concurrency C keeps \
            C clients opening at the same time.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Clients to open (in all).") var connections = 1000
    @Option(help: "Clients opening at the same time.") var concurrency = 1
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        guard connections > 0 else { throw ValidationError("--connections must be positive") }
        guard concurrency >= 1 && concurrency <= 256 else { throw ValidationError("--concurrency must be 1...256") }
    }

    struct Summary: Encodable {
        var connections: Int
        var concurrency: Int
        var seconds: Double
        var connectionsPerSecond: Double
        var p50Ms: Double
        var p99Ms: Double
        var maxMs: Double
    }

    func run() async throws {
        let configuration = try global.clientConfiguration(clientId: "tern-perf")
        let latencies = LatencyRecorder()
        let (connections, concurrency) = (connections, concurrency)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for worker in 0..<concurrency {
                tasks.addTask {
                    // Worker w opens clients w, w + C, w + 2C, …
                    for _ in stride(from: worker, to: connections, by: concurrency) {
                        let started = LatencyRecorder.nowNanoseconds()
                        let client = try await CLIFailure.wrap { try await TernClient(configuration: configuration) }
                        latencies.record(since: started)
                        await client.close()
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let latency = latencies.summary
        let summary = Summary(
            connections: connections, concurrency: concurrency, seconds: elapsed,
            connectionsPerSecond: Double(connections) / elapsed, p50Ms: latency.p50, p99Ms: latency.p99,
            maxMs: latency.max)
        if json {
            try JSONOutput.print(summary)
            return
        }
        let round = PerfSummary.rounded
        print(
            "\(connections) connections (concurrency \(concurrency)) in \(round(elapsed, 2)) s: "
                + "\(Int(summary.connectionsPerSecond)) connections/s, latency ms p50 \(round(latency.p50, 2)) "
                + "p99 \(round(latency.p99, 2)) max \(round(latency.max, 2))")
    }
}
