import ArgumentParser
import TernClient

extension ProduceCommand {
    /// Reads all of stdin and sends it as one batch appended only if `condition` holds; a
    /// conflict exits with status 3.
    func produceAtomically(_ producer: TernProducer, condition: AppendCondition) async throws {
        var lines: [ArraySlice<UInt8>] = []
        var splitter = LineSplitter()
        while let chunk = try await StandardInput.readChunk() { splitter.feed(chunk) { lines.append($0) } }
        splitter.finish { lines.append($0) }
        guard !lines.isEmpty else { throw CLIFailure("no records on stdin: a conditional append needs at least one") }
        let separator = keySeparator.map { Array($0.utf8) }
        let records = lines.map { line -> ProducerRecord in
            let (key, value) = KeyedLine.split(line, separator: separator)
            return ProducerRecord(key: key.map { Array($0) }, value: Array(value))
        }
        switch condition {
        case .endOffset:
            break
        case .keyLastOffset, .keyAbsent:
            guard let key = records[0].key, records.allSatisfy({ $0.key == key }) else {
                throw CLIFailure("--if-key-offset needs every line to carry the same key (before the first separator)")
            }
        }
        let stored: [RecordMetadata]
        do {
            stored = try await producer.sendAtomically(
                topic: topic, records: records, partition: partition, condition: condition)
        } catch let error as TernError where error.code == .conditionFailed {
            await producer.close()
            throw CLIFailure(
                "condition failed: \(Self.describe(condition)) on topic '\(topic)', actual offset "
                    + "\(error.actualOffset.map(String.init) ?? "unknown")",
                exitCode: 3)
        } catch let error as TernError {
            await producer.close()
            throw CLIFailure(error.message)
        }
        await producer.close()
        if let first = stored.first, let last = stored.last {
            StandardError.writeLine(
                "produced: \(stored.count) acknowledged, 0 failed (partition \(first.partition), offsets "
                    + "\(first.offset)...\(last.offset))")
        }
    }

    /// What the condition expected, for the conflict message.
    static func describe(_ condition: AppendCondition) -> String {
        switch condition {
        case .endOffset(let offset): "expected end offset \(offset)"
        case .keyLastOffset(let offset): "expected the key's last offset \(offset)"
        case .keyAbsent: "expected the key to have no record"
        }
    }
}
