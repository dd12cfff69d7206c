import ArgumentParser
import Dispatch
import Synchronization
import TernClient

#if canImport(Glibc)
import Glibc
#endif

/// `tern consume TOPIC`: records to stdout, one per line.
struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Print records of a topic to stdout, one per line.",
        discussion: """
            Output, one line per record:

              [PARTITION:OFFSET<TAB>][KEY<TAB>]VALUE

            where the PARTITION:OFFSET<TAB> prefix appears with --print-offset and KEY<TAB> with \
            --print-key (a missing key or value prints as 'null'). Keys and values are written as \
            raw bytes.

            Starts at the end of each partition (only new records) unless --from-beginning or \
            --offset N is given.

            With --group G the command joins consumer group G and prints the partitions the \
            group gives it; several commands with the same group share the topic's partitions. It \
            commits what it printed as it goes (every auto.commit.interval.ms, default 5000, before \
            a partition moves to another member, and on exit), so the next run continues where \
            this one stopped. --from-beginning then means auto.offset.reset=earliest: it applies \
            only where the group has no committed offset. --property KEY=VALUE sets a consumer \
            setting: fetch.max.wait.ms, fetch.min.bytes, fetch.max.bytes, max.partition.fetch.bytes, \
            max.poll.records, and with --group also session.timeout.ms, auto.offset.reset, \
            enable.auto.commit, auto.commit.interval.ms, group.instance.id, max.poll.interval.ms. Runs until SIGINT/SIGTERM, until --max-messages records were \
            printed, or until --timeout-ms passes without a new record; then exits 0. stdout is \
            buffered and flushed whenever the consumer is idle and on exit.

            With --key K the command prints only the records whose key is K (UTF-8, compared byte \
            for byte), read through the topic's key index (the topic needs key.index.enable=true; \
            otherwise it fails with KEY_INDEX_DISABLED) from the partition the producer's \
            partitioner gives K: the key's history from the log start (--from-beginning, the \
            default with --key) or from --offset N, up to the high watermark; then it exits 0.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic to consume.")
    var topic: String

    @Flag(help: "Start at the first record still stored.")
    var fromBeginning = false

    @Option(help: "Start at this offset (in every consumed partition).")
    var offset: Int64?

    @Option(help: "Consume only this partition.")
    var partition: Int32?

    @Option(help: "Exit after printing this many records.")
    var maxMessages: Int?

    @Option(help: "Exit when no record arrives for this many milliseconds.")
    var timeoutMs: Int?

    @Flag(help: "Print each record's key before its value: KEY<TAB>VALUE.")
    var printKey = false

    @Flag(help: "Prefix each line with PARTITION:OFFSET<TAB>.")
    var printOffset = false

    @Option(help: "Consume as a member of this consumer group (and commit offsets).")
    var group: String?

    @Option(name: .customLong("property"), help: "A consumer setting KEY=VALUE (repeatable; see above).")
    var properties: [String] = []

    @Option(help: "Print only the records with this key, read through the topic's key index, then exit.")
    var key: String?

    func validate() throws {
        if fromBeginning && offset != nil {
            throw ValidationError("--from-beginning and --offset cannot be used together")
        }
        if let offset, offset < 0 { throw ValidationError("--offset must not be negative") }
        if let partition, partition < 0 { throw ValidationError("--partition must not be negative") }
        if let maxMessages, maxMessages < 1 { throw ValidationError("--max-messages must be at least 1") }
        if let timeoutMs, timeoutMs < 0 { throw ValidationError("--timeout-ms must not be negative") }
        if key != nil && (group != nil || partition != nil) {
            throw ValidationError("--key cannot be used with --group or --partition (the key picks the partition)")
        }
        if let group {
            if group.isEmpty { throw ValidationError("--group must not be empty") }
            if offset != nil || partition != nil {
                throw ValidationError("--offset and --partition cannot be used with --group")
            }
            _ = try groupConfiguration(group)
        } else {
            if let groupKey = properties.compactMap(ConsumerProperties.key(of:)).first(where: {
                ConsumerProperties.groupOnlyKeys.contains($0)
            }) {
                throw ValidationError("--property \(groupKey) needs --group")
            }
            _ = try plainConfiguration()
        }
    }

    var format: RecordFormat { RecordFormat(printKey: printKey, printOffset: printOffset) }

    /// The consumer settings without `--group`: the fetch settings of `--property` apply.
    func plainConfiguration() throws -> ConsumerConfiguration {
        var configuration = ConsumerConfiguration(autoOffsetReset: fromBeginning ? .earliest : .latest)
        try ConsumerProperties.apply(properties, to: &configuration)
        configuration.onLogTruncation = Self.reportTruncation
        return configuration
    }

    /// A partition's log truncated below the consumer's position after a leader change: said on
    /// stderr (the records printed past the diverging offset are no longer in the log).
    static let reportTruncation: @Sendable (LogTruncation) -> Void = { truncation in
        StandardError.writeLine("tern consume: warning: \(truncation)")
    }

    func run() async throws {
        if let group { return try await runGroup(group) }
        if let key { return try await runKey(key) }
        let client = try await global.connect(clientId: "tern-consume")
        let consumer = client.consumer(configuration: try plainConfiguration())
        let output = OutputBuffer()
        let consumed = Atomic<Int>(0)
        let interrupts = InterruptHandler {
            output.flush()
            Glibc.exit(0)
        }
        defer { withExtendedLifetime(interrupts) {} }

        try await CLIFailure.wrap {
            if let partition {
                try await consumer.assign([TopicPartition(topic: topic, partition: partition)])
            } else {
                try await consumer.assign(topic: topic)
            }
            if let offset {
                for tp in consumer.assignment { try await consumer.seek(tp, to: .offset(offset)) }
            } else if fromBeginning {
                try await consumer.seekToBeginning()
            } else {
                try await consumer.seekToEnd()
            }
        }

        let format = self.format
        let pollTimeout: Duration = timeoutMs.map { .milliseconds($0) } ?? .seconds(1)
        let maxPoll = consumer.configuration.maxPollRecords
        var count = 0
        reading: while true {
            let records = try await CLIFailure.wrap { try await consumer.poll(timeout: pollTimeout) }
            if records.isEmpty {
                output.flush()
                if timeoutMs != nil { break reading }
                continue
            }
            var open = true
            for record in records {
                open = output.append { format.append(record, to: &$0) }
                count += 1
                consumed.store(count, ordering: .relaxed)
                if let maxMessages, count >= maxMessages { break reading }
                if !open { break reading }
            }
            if records.count < maxPoll { output.flush() }
        }
        output.flush()
        await consumer.close()
        await client.close()
    }
}

extension ConsumeCommand {
    /// `--key K`: the key's records through the key index, then exit.
    func runKey(_ key: String) async throws {
        let client = try await global.connect(clientId: "tern-consume")
        let output = OutputBuffer()
        let format = self.format
        try await CLIFailure.wrap {
            var count = 0
            for try await record in client.records(topic: topic, key: key, from: offset ?? 0) {
                guard output.append({ format.append(record, to: &$0) }) else { break }
                count += 1
                if let maxMessages, count >= maxMessages { break }
            }
        }
        output.flush()
        await client.close()
    }
}

/// How `tern consume` prints a record.
struct RecordFormat: Sendable {
    var printKey: Bool
    var printOffset: Bool

    /// Appends `[partition:offset\t][key\t]value\n`.
    func append(_ record: ConsumerRecord, to bytes: inout [UInt8]) {
        if printOffset {
            Self.appendDecimal(Int64(record.partition), to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            Self.appendDecimal(record.offset, to: &bytes)
            bytes.append(UInt8(ascii: "\t"))
        }
        if printKey {
            Self.appendField(record.key, to: &bytes)
            bytes.append(UInt8(ascii: "\t"))
        }
        Self.appendField(record.value, to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
    }

    private static let null = Array("null".utf8)

    private static func appendField(_ field: ArraySlice<UInt8>?, to bytes: inout [UInt8]) {
        if let field { bytes.append(contentsOf: field) } else { bytes.append(contentsOf: null) }
    }

    /// Appends the decimal digits of `value` without building a String.
    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8((magnitude / divisor) % 10))
            divisor /= 10
        }
    }
}

/// Runs `handler` on SIGINT or SIGTERM (instead of the default, which would lose buffered output).
final class InterruptHandler: Sendable {
    private let sources: Mutex<[any DispatchSourceSignal]>

    init(_ handler: @escaping @Sendable () -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    deinit {
        sources.withLock { sources in
            for source in sources { source.cancel() }
        }
    }
}
