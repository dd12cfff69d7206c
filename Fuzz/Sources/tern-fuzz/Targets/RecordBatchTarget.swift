import TernWire

/// A record set as it arrives in a produce request (the broker's `validateProduced`), is read back
/// from a log (`validateStored`, `RecordIterator`, the cleaner's `RecordBatchRewriter`) and is
/// fetched by a client (`RecordBatchDecoder`).
///
/// Input: a flags byte, then the record set. Flag bit 0 rewrites every batch's CRC first, so the
/// fuzzer explores the record framing behind the checksum; bit 1 validates as for a compacted
/// topic (keys required).
enum RecordBatchTarget {
    static let target = FuzzTarget(
        name: "record-batch", maxLength: 8192,
        summary: "record-batch validator (produce and stored), iterator, rewriter and decoder, gzip batches",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let flags = input.first else { return }
        var bytes = [UInt8](input[1...])
        if flags & 1 != 0 { SeedData.fixChecksums(&bytes) }
        let requireKeys = flags & 2 != 0

        // The client decodes whatever a broker sends without trapping, accepted or not.
        var decoded: [Record] = []
        let decodedBytes = try? RecordBatchDecoder.decode(bytes, minOffset: .min, into: &decoded)
        if let stored = try? bytes.withUnsafeBytes({ try RecordBatchValidator.validateStored($0, at: 0) }) {
            fuzzCheck(stored.totalSize <= bytes.count, "validateStored accepted a batch longer than the bytes")
        }

        let batches: [ValidatedBatch]
        do {
            batches = try bytes.withUnsafeBytes {
                try RecordBatchValidator.validateProduced($0, requireKeys: requireKeys)
            }
        } catch {
            return
        }
        // What the broker accepts, it can store, iterate and compact, and every client can read.
        var position = 0
        var expectedRecords = 0
        for batch in batches {
            fuzzCheck(batch.position == position, "batches are not contiguous")
            position += batch.size
            if !batch.header.isControl { expectedRecords += Int(batch.header.recordCount) }
            checkStored(bytes, batch)
        }
        fuzzCheck(position == bytes.count, "validated batches do not cover the record set")
        guard let decodedBytes else { fuzzFail("a record set validateProduced accepted does not decode") }
        fuzzCheck(decodedBytes == bytes.count, "decoder stopped at \(decodedBytes) of \(bytes.count) accepted bytes")
        fuzzCheck(decoded.count == expectedRecords, "decoded \(decoded.count) records of \(expectedRecords)")
        var next = 0
        for batch in batches where !batch.header.isControl {
            let records = decoded[next..<next + Int(batch.header.recordCount)]
            next += records.count
            for (delta, record) in records.enumerated() {
                fuzzCheck(record.offset == batch.header.baseOffset + Int64(delta), "record offset is not base + delta")
                fuzzCheck(!requireKeys || record.key != nil, "a keyless record passed requireKeys")
            }
            checkRebuild(batch, Array(records))
        }
    }

    /// A validated batch passes the stored check at its position, iterates to its record count and,
    /// rewritten by the cleaner with every record kept, comes out byte for byte the same.
    private static func checkStored(_ bytes: [UInt8], _ batch: ValidatedBatch) {
        bytes.withUnsafeBytes { raw in
            do {
                let header = try RecordBatchValidator.validateStored(raw, at: batch.position)
                fuzzCheck(header == batch.header, "validateStored read a different header")
            } catch {
                fuzzFail("validateStored refused a batch validateProduced accepted: \(error)")
            }
            guard batch.header.compression == CompressionCodec.none else { return }
            var count: Int32 = 0
            var maxTimestamp = Int64.min
            do {
                try RecordIterator.forEach(
                    in: raw, from: batch.position + RecordBatchHeader.size, to: batch.position + batch.size,
                    recordCount: batch.header.recordCount
                ) { view in
                    fuzzCheck(view.offsetDelta == count, "iterator offsetDelta \(view.offsetDelta), expected \(count)")
                    maxTimestamp = max(maxTimestamp, batch.header.baseTimestamp &+ view.timestampDelta)
                    count += 1
                }
            } catch {
                fuzzFail("RecordIterator refused a batch validateProduced accepted: \(error)")
            }
            fuzzCheck(count == batch.header.recordCount, "iterator saw \(count) records")
            var rewritten: [UInt8] = []
            do {
                try RecordBatchRewriter.append(
                    original: batch.header,
                    records: UnsafeRawBufferPointer(
                        rebasing: raw[(batch.position + RecordBatchHeader.size)..<(batch.position + batch.size)]),
                    recordCount: count, maxTimestamp: maxTimestamp, to: &rewritten)
            } catch {
                fuzzFail("RecordBatchRewriter refused an uncompressed batch: \(error)")
            }
            fuzzCheck(
                rewritten[...] == bytes[batch.position..<(batch.position + batch.size)],
                "rewriting a batch with all its records changed its bytes")
        }
    }

    /// A producer re-sending the decoded records builds a batch the broker accepts and that decodes
    /// to the same records (CreateTime batches, whose timestamps are the records' own).
    private static func checkRebuild(_ batch: ValidatedBatch, _ records: [Record]) {
        let header = batch.header
        guard !header.isLogAppendTime, let first = records.first else { return }
        // The builder takes timestamps relative to its base: skip spreads an Int64 cannot hold.
        for record in records where record.timestamp.subtractingReportingOverflow(first.timestamp).overflow {
            return
        }
        var builder = RecordBatchBuilder(baseTimestamp: first.timestamp)
        for record in records {
            builder.append(key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp)
        }
        let codec: CompressionCodec = header.compression == .gzip ? .gzip : .none
        let rebuilt = builder.finish(compression: codec)
        do {
            _ = try rebuilt.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
        } catch {
            fuzzFail("a batch rebuilt from decoded records is refused: \(error)")
        }
        var again: [Record] = []
        do {
            try RecordBatchDecoder.decode(rebuilt, minOffset: .min, into: &again)
        } catch {
            fuzzFail("a rebuilt batch does not decode: \(error)")
        }
        fuzzCheck(again.count == records.count, "rebuilt batch has \(again.count) records of \(records.count)")
        for (old, new) in zip(records, again) {
            fuzzCheck(
                old.key == new.key && old.value == new.value && old.headers == new.headers
                    && old.timestamp == new.timestamp,
                "a rebuilt record differs from the decoded one")
        }
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let plain = SeedData.batch(count: 3)
        let gzip = SeedData.batch(count: 3, compression: .gzip)
        var twoBatches = SeedData.batch(count: 1)
        twoBatches += SeedData.batch(count: 2, baseTimestamp: 1_700_000_001_000)
        var truncated = plain
        truncated.removeLast(5)
        return [
            ("plain", [0] + plain), ("plain-fix-crc", [1] + plain), ("plain-compacted", [2] + plain),
            ("gzip", [0] + gzip), ("gzip-fix-crc", [1] + gzip), ("two-batches", [1] + twoBatches),
            ("truncated", [0] + truncated),
        ]
    }
}
