import Foundation
import TernClient

/// A CQRS read model on Tern: a projection consumes the bank-account events and keeps each
/// account's summary (balance, counts) as the latest record of its key in a compacted topic,
/// which readers load instead of replaying events. The same fold, replayed from the first event
/// into a new topic, rebuilds the read model from scratch (after a bug fix or a new field).
///
///     cqrs-read-model [--bootstrap HOST:PORT] [--events bank-accounts] [--state account-summaries] project
///     cqrs-read-model [--bootstrap HOST:PORT] [--events bank-accounts] --state NEW-TOPIC rebuild
///     cqrs-read-model [--bootstrap HOST:PORT] [--state account-summaries] show
@main
struct CQRSReadModel {
    static let usage =
        "usage: cqrs-read-model [--bootstrap HOST:PORT] [--events TOPIC] [--state TOPIC] project|rebuild|show"

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let bootstrap = option("--bootstrap", in: &arguments) ?? "127.0.0.1:9092"
        let events = option("--events", in: &arguments) ?? "bank-accounts"
        let state = option("--state", in: &arguments) ?? "account-summaries"
        guard arguments.count == 1 else { fail(usage, status: 64) }
        do {
            let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [bootstrap]))
            switch arguments[0] {
            case "project":
                try await createStateTopicIfMissing(client, topic: state)
                try await project(client: client, events: events, state: state)
            case "rebuild":
                try await createStateTopicIfMissing(client, topic: state)
                try await rebuild(client: client, events: events, state: state)
            case "show":
                for summary in try await readSummaries(client: client, topic: state).values.sorted(by: {
                    $0.account < $1.account
                }) {
                    say(
                        "\(summary.account): balance \(summary.balance), \(summary.deposits) deposits, "
                            + "\(summary.withdrawals) withdrawals")
                }
            default:
                fail(usage, status: 64)
            }
            await client.close()
        } catch {
            fail("cqrs-read-model: error: \(error)", status: 1)
        }
    }

    /// Keeps the read model up to date, event by event, until stopped. It starts from the read
    /// model as stored and the consumer group's committed offset.
    static func project(client: TernClient, events: String, state: String) async throws {
        var summaries = try await readSummaries(client: client, topic: state)
        // One projection per read model, as a static group member: restarted after a crash, it
        // takes its partitions back at once instead of waiting out the dead one's session.
        let consumer = client.consumer(
            configuration: ConsumerConfiguration(
                fetchMaxWait: .milliseconds(200), autoOffsetReset: .earliest, groupId: "\(state)-projection",
                groupInstanceId: "\(state)-projection", enableAutoCommit: false))
        try await consumer.subscribe(topics: [events])
        let producer = client.producer()
        say("projecting \(events) into \(state)")
        while true {
            let records = try await consumer.poll(timeout: .seconds(1))
            var changed: Set<String> = []
            for record in records {
                guard let event = try? JSONDecoder().decode(AccountEvent.self, from: Data(record.value ?? [])) else {
                    continue
                }
                var summary = summaries[event.account] ?? AccountSummary(account: event.account)
                if summary.apply(event, offset: record.offset) {
                    summaries[event.account] = summary
                    changed.insert(event.account)
                }
            }
            // One record per changed account; then the offsets, so a crash between the two only
            // replays events that `apply` skips.
            for account in changed.sorted() {
                if let summary = summaries[account] { try await write(summary, to: state, producer: producer) }
            }
            try await producer.flush()
            if !records.isEmpty { try await consumer.commitSync() }
            if !changed.isEmpty {
                say("updated \(changed.count) account(s)")
            }
        }
    }

    /// Replays every event from the beginning into a fresh read model in `state`.
    static func rebuild(client: TernClient, events: String, state: String) async throws {
        var summaries: [String: AccountSummary] = [:]
        var count = 0
        for record in try await readAll(client: client, topic: events) {
            guard let event = try? JSONDecoder().decode(AccountEvent.self, from: Data(record.value ?? [])) else {
                continue
            }
            var summary = summaries[event.account] ?? AccountSummary(account: event.account)
            _ = summary.apply(event, offset: record.offset)
            summaries[event.account] = summary
            count += 1
        }
        let producer = client.producer()
        for summary in summaries.values { try await write(summary, to: state, producer: producer) }
        try await producer.flush()
        await producer.close()
        say("rebuilt \(summaries.count) accounts from \(count) events into \(state)")
    }

    static func write(_ summary: AccountSummary, to topic: String, producer: TernProducer) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        _ = try await producer.send(
            topic: topic, key: Array(summary.account.utf8), value: Array(try encoder.encode(summary)))
    }

    /// The read model as stored: the latest summary of every account in the compacted topic.
    static func readSummaries(client: TernClient, topic: String) async throws -> [String: AccountSummary] {
        var summaries: [String: AccountSummary] = [:]
        for record in try await readAll(client: client, topic: topic) {
            if let summary = try? JSONDecoder().decode(AccountSummary.self, from: Data(record.value ?? [])) {
                summaries[summary.account] = summary
            }
        }
        return summaries
    }

    /// Every record of `topic`, from the start of each partition to its end as of now.
    static func readAll(client: TernClient, topic: String) async throws -> [ConsumerRecord] {
        let partitions = try await client.admin.describeTopic(name: topic).partitions
        let consumer = client.consumer(configuration: ConsumerConfiguration(fetchMaxWait: .milliseconds(100)))
        try await consumer.assign(topic: topic)
        try await consumer.seekToBeginning()
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            var done = true
            for partition in partitions {
                let position = try await consumer.position(TopicPartition(topic: topic, partition: partition.partition))
                done = done && position >= partition.logEndOffset
            }
            if done { break }
            guard ContinuousClock.now < deadline else { throw TernError(.timedOut, "reading \(topic) to its end") }
            records += try await consumer.poll(timeout: .seconds(1))
        }
        await consumer.close()
        return records
    }

    /// A compacted topic keeps the latest summary of each account, however often it changed.
    static func createStateTopicIfMissing(_ client: TernClient, topic: String) async throws {
        do {
            try await client.admin.createTopic(name: topic, partitions: 3, configs: ["cleanup.policy": "compact"])
        } catch let error as TernError where error.brokerError == .topicAlreadyExists {
            // Created earlier: fine.
        }
    }
}

/// Removes `name VALUE` from `arguments` and returns VALUE.
func option(_ name: String, in arguments: inout [String]) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    defer { arguments.removeSubrange(index...index + 1) }
    return arguments[index + 1]
}

/// Prints a line at once, even when stdout is a pipe or a file (where `print` buffers).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(status)
}
