import ArgumentParser
import Synchronization
import TernClient

/// `tern produce TOPIC`: one record per stdin line.
struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Send one record per line of stdin.",
        discussion: """
            Each line of stdin (without its newline; a trailing \\r is dropped too) becomes one record \
            value. With --key-separator SEP, the part of a line before the first SEP is the record's \
            key and the rest its value; a line without SEP has no key. Records without a key are \
            spread over partitions in batches; keyed records go to murmur2(key) % partitions, as \
            with Kafka.

            Ends with one stderr line, 'produced: N acknowledged, M failed', preceded by the first \
            failure's reason when M > 0; the exit status is non-zero when M > 0.

            Conditional append: with --if-end-offset N (and --partition P) or --if-key-offset N \
            (and --key-separator; every line must carry the same key; -1: the key has no record yet, \
            which needs key.index.enable=true on the topic), all of stdin goes as one atomic batch, \
            appended only if the partition's log end offset (or the key's latest offset) is N. On a \
            conflict nothing is appended, 'tern: error: condition failed: ... actual offset M' is \
            printed and the exit status is 3.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The topic to produce to.")
    var topic: String

    @Option(help: "Acknowledgements to wait for: 0 (none), 1 (leader) or all (in-sync replicas, fsynced).")
    var acks = AcksOption(.all)

    @Option(help: ArgumentHelp("Split each line into key and value at the first SEP.", valueName: "sep"))
    var keySeparator: String?

    @Option(help: "Send every record to this partition.")
    var partition: Int32?

    @Option(help: "Milliseconds a batch waits for more records.")
    var lingerMs = 5

    /// 64 KiB rather than the SDK's 16 KiB: piping 1,000,000 short lines with --acks all to a
    /// local broker took ~1.1-1.3 s instead of ~1.3-1.9 s (release builds, 2 cores).
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Append stdin as one batch only if the partition's log end offset is N (needs --partition).",
            valueName: "n"))
    var ifEndOffset: Int64?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Append stdin as one batch only if the key's latest record is at offset N (-1: no record yet).",
            valueName: "n"))
    var ifKeyOffset: Int64?

    @Option(help: "Record batch compression: none or gzip.")
    var compression = CompressionOption(.none)

    @Flag(
        inversion: .prefixedEnableDisable,
        help: "The idempotent producer: a retried batch the broker already stored is not stored twice (default on).")
    var idempotence = true

    @Option(help: "Most bytes per record batch.")
    var batchSize = 64 * 1024

    func validate() throws {
        if let keySeparator, keySeparator.isEmpty { throw ValidationError("--key-separator must not be empty") }
        if let partition, partition < 0 { throw ValidationError("--partition must not be negative") }
        guard lingerMs >= 0 else { throw ValidationError("--linger-ms must not be negative") }
        guard batchSize >= 128 else { throw ValidationError("--batch-size must be at least 128 bytes") }
        if ifEndOffset != nil && ifKeyOffset != nil {
            throw ValidationError("--if-end-offset and --if-key-offset cannot be combined")
        }
        if let ifEndOffset {
            guard ifEndOffset >= 0 else { throw ValidationError("--if-end-offset must not be negative") }
            guard partition != nil else { throw ValidationError("--if-end-offset needs --partition") }
        }
        if let ifKeyOffset {
            guard ifKeyOffset >= -1 else {
                throw ValidationError("--if-key-offset must be -1 (no record yet) or an offset")
            }
            guard keySeparator != nil else { throw ValidationError("--if-key-offset needs --key-separator") }
        }
        if condition != nil, acks.value == .none {
            throw ValidationError("a conditional append needs --acks 1 or all")
        }
    }

    /// The condition asked for, if any.
    var condition: AppendCondition? {
        if let ifEndOffset { return .endOffset(ifEndOffset) }
        if let ifKeyOffset { return ifKeyOffset == -1 ? .keyAbsent : .keyLastOffset(ifKeyOffset) }
        return nil
    }

    var producerConfiguration: ProducerConfiguration {
        ProducerConfiguration(
            acks: acks.value, batchSize: batchSize, linger: .milliseconds(lingerMs), compression: compression.value,
            enableIdempotence: idempotence)
    }

    func run() async throws {
        let topic = self.topic
        let partition = self.partition
        let client = try await global.connect(clientId: "tern-produce")
        let partitions = try await CLIFailure.wrap { try await client.partitionCount(topic: topic) }
        if let partition, partition >= partitions {
            throw CLIFailure(
                "topic '\(topic)' has \(partitions) partition\(partitions == 1 ? "" : "s"); partition \(partition) does not exist")
        }
        let producer = client.producer(configuration: producerConfiguration)
        if let condition {
            do {
                try await produceAtomically(producer, condition: condition)
            } catch {
                await client.close()
                throw error
            }
            return await client.close()
        }
        let tally = ProduceTally()
        let completion: @Sendable (Result<RecordMetadata, TernError>) -> Void = { tally.record($0) }
        let separator = keySeparator.map { Array($0.utf8) }
        let sendLine = { (line: ArraySlice<UInt8>) in
            let (key, value) = KeyedLine.split(line, separator: separator)
            producer.send(
                topic: topic, key: key.map { Array($0) }, value: Array(value), partition: partition,
                completion: completion)
        }
        var splitter = LineSplitter()
        do {
            while let chunk = try await StandardInput.readChunk() {
                splitter.feed(chunk, sendLine)
                await producer.waitForCapacity()
            }
            splitter.finish(sendLine)
        } catch {
            await producer.close()
            await client.close()
            throw error
        }
        await producer.close()
        await client.close()
        let (acknowledged, failed, firstFailure) = tally.summary
        if let firstFailure { StandardError.writeLine("tern: error: \(firstFailure)") }
        StandardError.writeLine("produced: \(acknowledged) acknowledged, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}

/// Counts the outcomes of fire-and-forget sends and keeps the first failure's reason.
final class ProduceTally: Sendable {
    private let acknowledged = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let firstFailure = Mutex<String?>(nil)

    func record(_ result: Result<RecordMetadata, TernError>) {
        switch result {
        case .success:
            acknowledged.add(1, ordering: .relaxed)
        case .failure(let error):
            if failed.add(1, ordering: .relaxed).oldValue == 0 {
                firstFailure.withLock { $0 = error.message }
            }
        }
    }

    var summary: (acknowledged: Int, failed: Int, firstFailure: String?) {
        (acknowledged.load(ordering: .relaxed), failed.load(ordering: .relaxed), firstFailure.withLock { $0 })
    }
}
