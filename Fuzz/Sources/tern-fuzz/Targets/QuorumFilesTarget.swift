import TernRaft
import TernWire

@testable import TernBroker

#if canImport(Glibc)
import Glibc
#endif

/// The metadata quorum's files as a node reads them at start. The first input byte picks one:
///
/// - 0: a snapshot file, read by `QuorumSnapshotFile.read` from a temporary file holding the rest
///   of the input, under the name its own header claims (so the checks behind the name's are
///   reached); the CRC is fixed up for half of the inputs so the length and data checks are too;
/// - 1: `raft.log`'s entries after the header, walked with `QuorumLogStore.entryFault` as the
///   loader's index pass does, then sliced as its `readEntries` does.
///
/// `QuorumLogStore.load()` itself is not driven: it creates, truncates and fsyncs files in a
/// directory, a few milliseconds per input on this machine.
enum QuorumFilesTarget {
    static let target = FuzzTarget(
        name: "quorum-files", maxLength: 4096, summary: "QuorumSnapshotFile.read (temp file), raft.log entry framing",
        run: run, seeds: seeds)

    /// One file reused for every input (libFuzzer runs inputs one at a time on one thread).
    static let path = "/tmp/tern-fuzz-quorum-\(getpid()).snapshot"

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        var bytes = [UInt8](input.dropFirst())
        if input[0] % 2 == 0 {
            snapshot(&bytes, fixChecksum: input[0] & 2 != 0)
        } else {
            entries(bytes)
        }
    }

    private static func snapshot(_ bytes: inout [UInt8], fixChecksum: Bool) {
        var id = RaftSnapshotId(endOffset: 1, lastEpoch: 1)
        if bytes.count >= QuorumSnapshotFile.headerSize {
            var reader = ByteReader(bytes, range: 8..<24)
            if let end = try? reader.readInt64(), let epoch = try? reader.readInt64() {
                id = RaftSnapshotId(endOffset: end, lastEpoch: epoch)
            }
            if fixChecksum {
                let crc = QuorumSnapshotFile.checksum(bytes)
                for i in 0..<4 { bytes[32 + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
            }
        }
        guard let file = fopen(path, "wb") else { fuzzFail("cannot write \(path)") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        fuzzCheck(written == bytes.count, "short write to \(path)")
        guard case .success(let snapshot) = QuorumSnapshotFile.read(path, id: id, maxBytes: 1 << 20) else { return }
        fuzzCheck(snapshot.id == id, "read a snapshot other than the one its name says")
        fuzzCheck(QuorumSnapshotFile.encode(snapshot) == bytes, "an accepted snapshot re-encodes to other bytes")
    }

    private static func entries(_ body: [UInt8]) {
        let bytes = QuorumLogStore.logHeader(base: 0, epoch: 0) + body
        var position = QuorumLogStore.logHeaderSize
        var lastEpoch: Int64 = 0
        while position < bytes.count, QuorumLogStore.entryFault(bytes, at: position, after: lastEpoch) == nil {
            let length = Int(QuorumLogStore.uint32(bytes, position))
            let end = position + QuorumLogStore.headerSize + length
            fuzzCheck(length >= 8 && end <= bytes.count, "an accepted entry of \(length) bytes overruns the log")
            let epoch = QuorumLogStore.int64(bytes, position + QuorumLogStore.headerSize)
            fuzzCheck(epoch >= lastEpoch && epoch >= 1, "accepted epoch \(epoch) after \(lastEpoch)")
            lastEpoch = epoch
            let entry = RaftEntry(epoch: epoch, data: Array(bytes[(position + QuorumLogStore.headerSize + 8)..<end]))
            fuzzCheck(entry.data.count == length - 8, "entry data of \(entry.data.count) bytes, length \(length)")
            position = end
        }
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let snapshot = QuorumSnapshotFile.encode(
            RaftSnapshot(endOffset: 40, lastEpoch: 3, data: MetadataBatch.encode([.clusterId("tern-cluster-1")])))
        var log: [UInt8] = []
        for (epoch, data) in [(Int64(1), [UInt8]()), (1, [0, 0, 0, 0]), (3, MetadataBatch.encode([.clusterId("c")]))] {
            var w = ByteWriter(capacity: 32)
            w.write(epoch)
            w.write(contentsOf: data)
            let body = w.take()
            w.write(UInt32(body.count))
            w.write(CRC32C.checksum(body, range: 0..<body.count))
            w.write(contentsOf: body)
            log += w.take()
        }
        return [
            ("snapshot", [2] + snapshot),
            (
                "snapshot-empty-data",
                [2] + QuorumSnapshotFile.encode(RaftSnapshot(endOffset: 1, lastEpoch: 1, data: []))
            ),
            ("raft-log", [1] + log),
        ]
    }
}
