// The key index's figures of docs/benchmarks.md (storage level, one partition):
//   1. append throughput of RECORDS records (100-byte values, 100 per batch, over KEYS keys, so
//      each key has RECORDS/KEYS records spread evenly over the whole log) into a key-indexed log
//      and a plain one, interleaved chunk by chunk so both see the same machine;
//   2. reading one key's records through the index (`readKey`) against a full scan of the
//      partition that decodes every record and keeps the key's (what a consumer would do);
//   3. the index's memory: per key with one record per key, in memory (active segment) and sealed.
// usage (release, separate scratch path):
//   TERN_BENCHMARKS=1 swift build -c release --scratch-path .build-release --product key-index-bench
//   .build-release/release/key-index-bench DIR [records] [keys] [segmentBytes]
import Foundation
import Logging
import TernStorage
import TernWire

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: key-index-bench DIR [records] [keys] [segmentBytes]")
    exit(2)
}
let directory = arguments[1]
let records = arguments.count > 2 ? Int(arguments[2]) ?? 10_000_000 : 10_000_000
let keyCount = arguments.count > 3 ? Int(arguments[3]) ?? 100_000 : 100_000
let segmentBytes = arguments.count > 4 ? Int(arguments[4]) ?? 134_217_728 : 134_217_728
let perBatch = 100
try? FileManager.default.removeItem(atPath: directory)
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
var logger = Logger(label: "bench")
logger.logLevel = .warning
let manager = try LogManager(logDirs: [directory], flushMode: .sync, logger: logger)
let indexedConfig = LogConfig(segmentBytes: segmentBytes, keyIndexEnabled: true)
let plainConfig = LogConfig(segmentBytes: segmentBytes, keyIndexEnabled: false)
let indexed = try manager.createLog(TopicPartition("indexed", 0), config: indexedConfig)
let plain = try manager.createLog(TopicPartition("plain", 0), config: plainConfig)

func key(_ i: Int) -> [UInt8] {
    let digits = String(i % keyCount)
    return Array(("key-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits).utf8)
}
let value = [UInt8](repeating: 0x61, count: 100)

/// One produced batch of `perBatch` records starting at record `first`, validated as the broker does.
func batch(_ first: Int) throws -> ([UInt8], [ValidatedBatch]) {
    var builder = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000)
    for i in first..<first + perBatch { builder.append(key: key(i), value: value, headers: [], timestamp: nil) }
    let bytes = builder.finish()
    let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
    return (bytes, batches)
}

print(
    "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; workload: \(records) records x 100 B values, "
        + "\(keyCount) keys, \(perBatch) records per batch, segment.bytes \(segmentBytes)")

// 1. Appends, interleaved in chunks of 1,000 batches. The batches are built before timing.
var indexedSeconds = 0.0
var plainSeconds = 0.0
var built: [([UInt8], [ValidatedBatch])] = []
var first = 0
while first < records {
    built.removeAll(keepingCapacity: true)
    let chunkEnd = min(records, first + 1000 * perBatch)
    var i = first
    while i < chunkEnd {
        built.append(try batch(i))
        i += perBatch
    }
    for (log, isIndexed) in [(indexed, true), (plain, false)] {
        var copies = built
        let start = now()
        for j in copies.indices { _ = try log.append(&copies[j].0, batches: copies[j].1, leaderEpoch: 0) }
        if isIndexed { indexedSeconds += now() - start } else { plainSeconds += now() - start }
    }
    first = chunkEnd
}
let bytes = indexed.sizeInBytes
print(
    String(
        format: "append: key-indexed %.0f records/s (%.1f MB/s), plain %.0f records/s (%.1f MB/s): index costs %.1f%%",
        Double(records) / indexedSeconds, Double(bytes) / indexedSeconds / 1e6, Double(records) / plainSeconds,
        Double(bytes) / plainSeconds / 1e6, (indexedSeconds / plainSeconds - 1) * 100))
print("log: \(bytes) bytes in \(indexed.segmentCount) segments")
let memoryBeforeSeal = indexed.keyIndexMemoryBytes
var start = now()
indexed.sealKeyIndexes()
print(
    String(
        format: "seal: %.2f s to write the index files of the sealed segments; index memory %d bytes before, %d after",
        now() - start, memoryBeforeSeal, indexed.keyIndexMemoryBytes))

// 2. One key's records: through the index, then by a full scan.
var samples: [Double] = []
var found = 0
for k in stride(from: 7, to: keyCount, by: max(1, keyCount / 20)) {
    let wanted = key(k)
    let t = now()
    var next: Int64 = 0
    var offsets: [Int64] = []
    while next < indexed.logEndOffset {
        let result = try indexed.readKey(wanted, from: next, maxOffset: .max, maxBytes: 16 << 20)
        _ = try ReadResult(slices: result.slices, byteCount: result.byteCount, logStartOffset: 0, logEndOffset: 0)
            .readBytes()
        offsets += result.offsets
        next = result.nextOffset
    }
    samples.append(now() - t)
    found = offsets.count
}
samples.sort()
print(
    String(
        format:
            "readKey: %d records of one key in %.2f ms (median of %d keys; min %.2f, max %.2f), batches read into memory",
        found, samples[samples.count / 2] * 1000, samples.count, samples[0] * 1000, samples[samples.count - 1] * 1000))
var lastSamples: [Double] = []
for k in stride(from: 11, to: keyCount, by: max(1, keyCount / 20)) {
    let t = now()
    _ = try indexed.lastOffset(ofKey: key(k))
    lastSamples.append(now() - t)
}
lastSamples.sort()
print(String(format: "lastOffset(ofKey:): %.3f ms median", lastSamples[lastSamples.count / 2] * 1000))

start = now()
let wanted = key(7)
var next: Int64 = 0
var matched = 0
while next < plain.logEndOffset {
    let result = try plain.read(from: next, maxBytes: 1 << 20, maxOffset: .max)
    let data = try result.readBytes()
    try RecordBatchDecoder.forEachRecord(in: data, minOffset: next) { storage, layout in
        if let range = layout.key, storage[range].elementsEqual(wanted) { matched += 1 }
        next = max(next, layout.offset + 1)
    }
}
print(String(format: "full scan: %d records of one key in %.0f ms", matched, (now() - start) * 1000))

// 3. Memory per key: a million keys with one record each.
let million = try manager.createLog(
    TopicPartition("million", 0), config: LogConfig(segmentBytes: 1 << 30, keyIndexEnabled: true))
var m = 0
while m < 1_000_000 {
    var builder = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000)
    for i in m..<m + perBatch {
        builder.append(key: Array("unique-\(i)".utf8), value: value, headers: [], timestamp: nil)
    }
    var bytes = builder.finish()
    let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
    _ = try million.append(&bytes, batches: batches, leaderEpoch: 0)
    m += perBatch
}
let active = million.keyIndexMemoryBytes
try million.roll()
million.sealKeyIndexes()
let sealed = million.keyIndexMemoryBytes
let fileBytes =
    (try? FileManager.default.attributesOfItem(
        atPath: directory + "/million-0/00000000000000000000.keyindex")[.size] as? NSNumber)?.intValue ?? -1
print(
    "memory per million keys (one record each): active segment in memory \(active) bytes "
        + "(\(active / 1_000_000) B/key); sealed: \(sealed) bytes in memory, \(fileBytes) bytes on disk")
try manager.shutdown()
try? FileManager.default.removeItem(atPath: directory)
